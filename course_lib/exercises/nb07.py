"""Self-checks of notebook 07 (embeddings, factorized and tied): counts, break-even vocabulary, tying.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/07_embeddings_factorized_tied.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ..config import ModelConfig
from ..measure import count_parameters
from ..model import Embeddings, build_model
from .framework import check, exercise, passed, run


@exercise
def check_07_embedding_params(fn: Callable) -> None:
    """fn(vocab_size, d_model, max_len) -> V*H + max_len*H (tokens and positions)."""
    sizes = [(30000, 768, 512), (78, 32, 64), (1000, 256, 128)]
    for v, h, t in sizes:
        got = run(fn, v, h, t)
        cfg = ModelConfig(vocab_size=v, d_model=h, n_heads=4, max_len=t)
        with torch.device("meta"):
            want = count_parameters(Embeddings(cfg))
        check(isinstance(got, int), f"return an int, got {type(got).__name__}")
        if got == v * h:
            raise AssertionError("add the learned positions: one H-vector per position, max_len*H")
        check(got == want, f"V={v}, H={h}, max_len={t}: expected {want:,}, got {got:,}")
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
    for e, h in ((128, 768), (16, 32), (64, 256), (100, 200)):
        got = run(fn, e, h)
        check(isinstance(got, int), f"return an int, got {type(got).__name__}")
        without_bias = e * h // (h - e) + 1
        if got == without_bias and not _factorizing_saves(got, e, h):
            raise AssertionError(
                "count the projection's bias too: nn.Linear(E, H) holds E*H + H parameters"
            )
        check(
            _factorizing_saves(got, e, h),
            f"E={e}, H={h}: with V={got} factorizing does not save yet",
        )
        check(
            not _factorizing_saves(got - 1, e, h),
            f"E={e}, H={h}: V={got - 1} already saves; find the smallest V",
        )
    passed("check_07_break_even_vocab", 4)


@exercise
def check_07_tie(fn: Callable) -> None:
    """fn(model) makes lm_head and tok_emb one tensor, in place."""
    cfg = ModelConfig(vocab_size=50, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=16,
                      task="lm")  # fmt: skip
    model = build_model(cfg)
    before = count_parameters(model)
    run(fn, model)
    head, emb = model.lm_head.weight, model.embed.tok_emb.weight
    if head is not emb and torch.equal(head, emb):
        raise AssertionError(
            "equal values are a copy, not a tie: assign the Parameter itself, "
            "model.lm_head.weight = model.embed.tok_emb.weight"
        )
    check(head is emb, "model.lm_head.weight must BE model.embed.tok_emb.weight (one object)")
    check(
        isinstance(model.lm_head, nn.Linear),
        "tie the weight tensor, not the module: model.lm_head must stay a Linear (it maps "
        "vectors to logits; an Embedding looks up ids)",
    )
    with torch.no_grad():
        logits = model(torch.randint(0, 50, (2, 5)))
    check(logits.shape == (2, 5, 50), "after tying, the model still returns (B, T, V) logits")
    saved = before - count_parameters(model)
    check(saved == 50 * 16, f"tying saves V*d = 800 parameters, the count moved by {saved}")
    passed("check_07_tie", 2)


@exercise
def check_07_unigram_entropy(fn: Callable) -> None:
    """fn(text) -> -sum p(c) ln p(c) over characters, in nats."""
    cases = [
        ("aaaa", 0.0),
        ("abab", math.log(2)),
        ("aab", -(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3)),
    ]
    for text, want in cases:
        got = run(fn, text)
        check(isinstance(got, float), f"return a Python float, got {type(got).__name__}")
        if want > 0 and abs(got - want / math.log(2)) < 1e-6:
            raise AssertionError("that is in bits (log2); use the natural log, math.log, for nats")
        if want > 0 and abs(got + want) < 1e-6:
            raise AssertionError("entropy is -sum p ln p: you lost the minus sign")
        if text == "aab" and abs(got - math.log(2)) < 1e-6:
            raise AssertionError("weight by the frequencies: p(c) = count(c) / len(text)")
        check(abs(got - want) < 1e-6, f"{text!r}: expected {want:.4f} nats, got {got:.4f}")
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
        for _ in range(6):
            want.append(int(model(torch.tensor([want[-8:]]))[0, -1].argmax()))
    try:
        got = run(fn, model, list(prompt), 6)
    except AssertionError as e:
        if any(s in str(e) for s in ("index out of range", "size of tensor", "max_len")):
            raise AssertionError(
                "the model has max_len=8 positions: feed only the last max_len tokens, "
                "ids[-model.cfg.max_len:]"
            ) from None
        raise
    check(isinstance(got, list), f"return a list of ints, got {type(got).__name__}")
    check(len(got) == 12, f"return the prompt and the 6 new tokens: 12 ids, got {len(got)}")
    check(got[:6] == prompt, "start the result with the prompt itself")
    check(
        got[6] == want[6],
        "the next token is the argmax of the logits at the LAST position, [0, -1]",
    )
    check(got == want, f"expected {want}, got {got}")
    passed("check_07_greedy", 3)
