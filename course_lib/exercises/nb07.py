"""Self-checks of notebook 07 (embeddings, factorized and tied): counts, break-even vocabulary, tying.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/07_embeddings_factorized_tied.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from course_lib.config import ModelConfig
from course_lib.exercises.compare import check, check_type
from course_lib.exercises.framework import exercise, if_error_says, passed, run
from course_lib.i18n import _
from course_lib.nn.counts import count_parameters
from course_lib.nn.model import Embeddings, build_model


@exercise
def check_07_embedding_params(fn: Callable) -> None:
    """fn(vocab_size, d_model, max_len) -> V*H + max_len*H (tokens and positions)."""
    sizes = [(30000, 768, 512), (78, 32, 64), (1000, 256, 128)]
    for v, h, t in sizes:
        got = run(fn, v, h, t)
        cfg = ModelConfig(vocab_size=v, d_model=h, n_heads=4, max_len=t)
        with torch.device("meta"):
            want = count_parameters(Embeddings(cfg))
        if isinstance(got, float) and got == want:
            raise AssertionError(_("return an int, not a float: count with integers"))
        check_type(got, int, _("return an int, got {type}"))
        mistakes = {
            v * h: _("add the learned positions: one H-vector per position, max_len*H"),
            v * h + t: _("each position holds a whole H-vector, not one number: max_len*H"),
            2 * v * h: _("the position table has max_len rows, not V: max_len*H"),
            v * h + t * h + h: _("an nn.Embedding is a table: no bias, V*H and max_len*H"),
            v * h * t: _("add the two tables' sizes, V*H + max_len*H; do not multiply"),
        }
        if got != want and got in mistakes:
            raise AssertionError(mistakes[got])
        check(
            got == want,
            _("V={v}, H={h}, max_len={t}: expected {want:,}, got {got:,}").format(
                v=v, h=h, t=t, want=want, got=got
            ),
        )
    passed("check_07_embedding_params", len(sizes))


def _factorizing_saves(vocab_size: int, embed_dim: int, d_model: int) -> bool:
    """True when course_lib's factorized embeddings hold fewer parameters than plain ones."""
    plain = ModelConfig(vocab_size=vocab_size, d_model=d_model, n_heads=4)
    with torch.device("meta"):  # shapes only
        return count_parameters(Embeddings(plain.replace(embed_dim=embed_dim))) < count_parameters(
            Embeddings(plain)
        )


@exercise
def check_07_break_even_vocab(fn: Callable) -> None:
    """fn(embed_dim, d_model) -> the smallest V for which factorizing saves parameters."""
    for e, h in ((16, 32), (128, 768), (64, 256), (100, 200)):
        got = run(fn, e, h)
        if isinstance(got, float):
            raise AssertionError(
                _(
                    "return an int, the smallest whole V, not the float {got}: round the "
                    "break-even point up to the next integer above it"
                ).format(got=got)
            )
        check_type(got, int, _("return an int, got {type}"))
        check(
            got > 0,
            _(
                "E={e}, H={h}: a vocabulary is positive, got {got}; factorizing saves "
                "V*(H - E) and costs E*H + H, so divide by H - E"
            ).format(e=e, h=h, got=got),
        )
        extra = e * h + h
        if extra % (h - e) == 0 and got == extra // (h - e):
            raise AssertionError(
                _(
                    "E={e}, H={h}: at V={got} both hold the same number of parameters; 'fewer' "
                    "is strict, so the answer is the next V"
                ).format(e=e, h=h, got=got)
            )
        without_bias = e * h // (h - e) + 1
        if got == without_bias and not _factorizing_saves(got, e, h):
            raise AssertionError(
                _("count the projection's bias too: nn.Linear(E, H) holds E*H + H parameters")
            )
        check(
            _factorizing_saves(got, e, h),
            _("E={e}, H={h}: with V={got} factorizing does not save yet").format(e=e, h=h, got=got),
        )
        check(
            not _factorizing_saves(got - 1, e, h),
            _("E={e}, H={h}: V={v} already saves; find the smallest V").format(e=e, h=h, v=got - 1),
        )
    passed("check_07_break_even_vocab", 4)


@exercise
def check_07_tie(fn: Callable) -> None:
    """fn(model) makes lm_head and tok_emb one tensor, in place."""
    cfg = ModelConfig(vocab_size=50, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=16,
                      task="lm")  # fmt: skip
    model = build_model(cfg)
    before = count_parameters(model)
    old_head = model.lm_head.weight.detach().clone()
    out = run(
        fn,
        model,
        likely=if_error_says(
            "cannot assign",
            "size mismatch",
            "shapes cannot",
            hint=_(
                "lm_head.weight and tok_emb.weight are both (V, d) = (50, 16): assign the "
                "embedding's weight Parameter itself, untransposed and not the Embedding module"
            ),
        ),
    )
    head, emb = model.lm_head.weight, model.embed.tok_emb.weight
    if isinstance(out, nn.Module) and out is not model and torch.equal(head, old_head):
        raise AssertionError(
            _(
                "tie in place: change the model you were given; your function returned another "
                "model and left this one untied"
            )
        )
    if head is not emb and head.data_ptr() == emb.data_ptr():
        raise AssertionError(
            _(
                "that shares the storage but leaves two Parameter objects (as `.data = ` or "
                "nn.Parameter(...) does): model.parameters() still lists both, so the count does "
                "not fall, AdamW keeps two sets of moments for one storage, and the state_dict "
                "lists it twice; make lm_head.weight BE the embedding's Parameter"
            )
        )
    if head is not emb and torch.equal(head, emb):
        raise AssertionError(
            _(
                "equal values are a copy, not a tie: the two tensors live in separate memory and "
                "drift apart in training; make lm_head.weight BE the embedding's Parameter"
            )
        )
    check(head is emb, _("model.lm_head.weight must BE model.embed.tok_emb.weight (one object)"))
    check(
        isinstance(model.lm_head, nn.Linear),
        _(
            "tie the weight tensor, not the module: model.lm_head must stay a Linear (it maps "
            "vectors to logits; an Embedding looks up ids)"
        ),
    )
    with torch.no_grad():
        logits = model(torch.randint(0, 50, (2, 5)))
    check(logits.shape == (2, 5, 50), _("after tying, the model still returns (B, T, V) logits"))
    saved = before - count_parameters(model)
    check(
        saved == 50 * 16,
        _("tying saves V*d = 800 parameters, the count moved by {saved}").format(saved=saved),
    )
    passed("check_07_tie", 2)


@exercise
def check_07_unigram_entropy(fn: Callable) -> None:
    """fn(text) -> -sum p(c) ln p(c) over characters, in nats."""
    cases = [
        ("aab", -(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3)),
        ("abab", math.log(2)),
        ("aaaa", 0.0),
    ]
    for text, want in cases:
        got = run(fn, text)
        if isinstance(got, torch.Tensor):
            raise AssertionError(_("return a Python float (.item()), not a tensor"))
        check_type(got, float | int, _("return a Python float, got {type}"))
        got = float(got)
        counts = [text.count(c) for c in sorted(set(text))]
        probs = [k / len(text) for k in counts]
        if want > 0 and abs(got - want / math.log(2)) < 1e-6:
            raise AssertionError(
                _("that is in bits (log2); use the natural log, math.log, for nats")
            )
        if want > 0 and abs(got - want / math.log(10)) < 1e-6:
            raise AssertionError(_("that is log10; use the natural log, math.log, for nats"))
        if want > 0 and abs(got - len(text) * want) < 1e-6:
            raise AssertionError(
                _(
                    "you summed -ln p(c) over every character of the text; the entropy sums over "
                    "the DISTINCT characters, each weighted by p(c) (or averages over positions)"
                )
            )
        if want > 0 and abs(got + sum(math.log(q) for q in probs)) < 1e-6:
            raise AssertionError(_("weight each -ln p(c) by its probability p(c): -sum p ln p"))
        if (
            len(counts) > 1
            and abs(got + want) > 1e-6
            and abs(got + sum(q * math.log(k) for q, k in zip(probs, counts, strict=True))) < 1e-6
        ):
            raise AssertionError(
                _("take the log of the probability p(c) = count / len(text), not of the count")
            )
        if want > 0 and abs(got + want) < 1e-6:
            raise AssertionError(_("entropy is -sum p ln p: you lost the minus sign"))
        if text == "aab" and abs(got - math.log(2)) < 1e-6:
            raise AssertionError(_("weight by the frequencies: p(c) = count(c) / len(text)"))
        check(
            abs(got - want) < 1e-6,
            _("{text!r}: expected {want:.4f} nats, got {got:.4f}").format(
                text=text, want=want, got=got
            ),
        )
    passed("check_07_unigram_entropy", len(cases))


@exercise
def check_07_greedy(fn: Callable) -> None:
    """fn(model, ids, n_new) -> ids + n_new greedy tokens, context cropped to max_len."""
    torch.manual_seed(5)
    cfg = ModelConfig(vocab_size=12, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=8,
                      task="lm")  # fmt: skip
    model = build_model(cfg).eval()
    for layer in model.modules():  # larger weights: distinct logits, a varied greedy path
        if isinstance(layer, nn.Linear | nn.Embedding):
            nn.init.normal_(layer.weight, std=0.5)
    prompt = [3, 4, 5, 6, 7, 8]
    want = list(prompt)
    with torch.no_grad():
        for _step in range(6):
            want.append(int(model(torch.tensor([want[-8:]]))[0, -1].argmax()))
    try:
        got = run(fn, model, list(prompt), 6)
    except AssertionError as e:
        if any(s in str(e) for s in ("index out of range", "size of tensor", "max_len")):
            raise AssertionError(
                _(
                    "the model has max_len=8 positions: feed only the last max_len tokens, "
                    "ids[-model.cfg.max_len:]"
                )
            ) from None
        raise
    check_type(got, list, _("return a list of ints, got {type}"))
    check(
        len(got) == 12,
        _("return the prompt and the 6 new tokens: 12 ids, got {n}").format(n=len(got)),
    )
    check(got[:6] == prompt, _("start the result with the prompt itself"))
    check(
        got[6] == want[6],
        _("the next token is the argmax of the logits at the LAST position, [0, -1]"),
    )
    check(got == want, _("expected {want}, got {got}").format(want=want, got=got))
    passed("check_07_greedy", 3)
