"""Self-checks for the exercises of notebooks 06 (training with sharing) and 07 (embeddings).

Same framework as ``course_lib.checks`` (``check``, ``run``, ``isolated``, ``passed``):
each ``check_NN_name(fn)`` tries the learner's function on a few inputs, recognises the
usual mistakes and raises ``AssertionError`` with a hint that names the fix. Reference
solutions: ``load_solution("06_training_with_sharing")`` and
``"07_embeddings_factorized_tied"``; ``tests/test_checks_training.py`` shows each passes
and each check rejects a plausible wrong answer with its hint.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import torch
from torch import nn

from .checks import check, isolated, passed, run
from .config import SHARING_STRATEGIES, ModelConfig
from .measure import count_parameters
from .model import Embeddings, build_model

BLOCK_STRATEGIES = ("sequence", "cycle", "cycle_rev")

# ---------------------------------------------------------------- notebook 06: training


@isolated
def check_06_majority_baseline(fn: Callable) -> None:
    """fn(train_labels, test_labels) -> test accuracy of the most frequent training label."""
    cases = [  # (train, test): the second has a training majority the test set lacks
        (torch.tensor([1, 1, 1, 0]), torch.tensor([1, 0, 1, 1, 0])),
        (torch.tensor([0, 0, 0, 1, 1]), torch.tensor([1, 1, 1, 0])),
    ]
    for train, test in cases:
        got = run(fn, train, test)
        majority = int(torch.bincount(train).argmax())
        want = (test == majority).float().mean().item()
        check(isinstance(got, float), f"return a Python float (.item()), got {type(got).__name__}")
        if got > 1:
            raise AssertionError("return a fraction in [0, 1], not a percentage")
        if majority == 0 and abs(got - (test == 1).float().mean().item()) < 1e-6:
            raise AssertionError(
                "decide the class from the TRAINING labels: predicting the test set's own "
                "majority (or always 1) peeks at answers you would not have"
            )
        check(abs(got - want) < 1e-6, f"expected {want:.3f}, got {got:.3f}")
    passed("check_06_majority_baseline", len(cases))


@isolated
def check_06_sharing_cost(fn: Callable) -> None:
    """fn(results) -> Series by name: accuracy minus the ``none`` plan's, in points."""
    table = pd.DataFrame({"name": ["all", "none", "cycle M=2"],
                          "sharing": ["all", "none", "cycle"],
                          "accuracy": [0.69, 0.72, 0.74]})  # fmt: skip
    got = run(fn, table.copy())
    check(isinstance(got, pd.Series), f"return a pandas Series, got {type(got).__name__}")
    check(list(got.index) == list(table["name"]), "index the Series by the plans' names")
    values = [round(float(v), 6) for v in got]
    if values == [3.0, 0.0, -2.0]:
        raise AssertionError("the sign: plan minus none, so a plan worse than none is negative")
    if values == [-0.03, 0.0, 0.02]:
        raise AssertionError("in percentage points: multiply the difference by 100")
    check(
        values == [-3.0, 0.0, 2.0],
        f"expected [-3.0, 0.0, 2.0] (find the row whose sharing is 'none'), got {values}",
    )
    passed("check_06_sharing_cost", 1)


@isolated
def check_06_within_noise(fn: Callable) -> None:
    """fn(results, n_test) -> names with accuracy >= best - sqrt(best(1-best)/n_test)."""
    table = pd.DataFrame({"name": ["a", "b", "c", "d"], "accuracy": [0.75, 0.74, 0.70, 0.738]})
    got = run(fn, table.copy(), 1276)  # one standard error here: 1.2 points
    check(isinstance(got, list | tuple), f"return a list of names, got {type(got).__name__}")
    if set(got) == {"a"}:
        raise AssertionError(
            "the standard error is the SQUARE ROOT of p(1 - p) / n: sqrt(0.75*0.25/1276) = 0.012"
        )
    if set(got) == {"a", "b", "c", "d"}:
        raise AssertionError(
            "divide by n_test inside the square root: more test examples, less noise"
        )
    check(set(got) == {"a", "b", "d"}, f"expected ['a', 'b', 'd'], got {list(got)}")
    passed("check_06_within_noise", 1)


@isolated
def check_06_global_grad_norm(fn: Callable) -> None:
    """fn(model) -> sqrt(sum of squared gradients), each shared tensor counted once."""
    torch.manual_seed(6)
    shared = nn.Linear(5, 5)
    net = nn.ModuleDict({
        "stack": nn.Sequential(nn.Linear(3, 5), nn.Tanh(), shared, nn.Tanh(), shared, nn.Linear(5, 1)),
        "unused": nn.Linear(5, 5),  # never called: its .grad stays None
    })  # fmt: skip
    net["stack"](torch.randn(8, 3)).pow(2).mean().backward()
    want = math.sqrt(
        sum(p.grad.pow(2).sum().item() for p in net.parameters() if p.grad is not None)
    )
    got = run(fn, net)
    check(isinstance(got, float), f"return a Python float, got {type(got).__name__}")
    per_use = math.sqrt(
        sum(p.grad.pow(2).sum().item()
            for _, p in net.named_parameters(remove_duplicate=False) if p.grad is not None)
    )  # fmt: skip
    if abs(got - per_use) < 1e-6:
        raise AssertionError(
            "count the shared tensor once (model.parameters()): its .grad already holds the "
            "sum over its uses"
        )
    if abs(got - want**2) < 1e-6:
        raise AssertionError("take the square root of the sum of squares")
    torch.testing.assert_close(
        torch.tensor(got), torch.tensor(want), msg="sqrt(sum over p of (p.grad ** 2).sum())"
    )
    passed("check_06_global_grad_norm", 1)


@isolated
def check_06_reinit_embeddings(fn: Callable) -> None:
    """fn(model, std) re-draws tok_emb and pos_emb from N(0, std) and touches nothing else."""
    torch.manual_seed(7)
    cfg = ModelConfig(vocab_size=600, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=64,
                      init="he")  # fmt: skip
    for std in (0.02, 0.1):
        model = build_model(cfg)
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        run(fn, model, std)
        after = dict(model.named_parameters())
        for name in ("embed.tok_emb.weight", "embed.pos_emb.weight"):
            check(name in after, f"keep the module structure: {name} is gone")
            got = after[name].std().item()
            check(
                not torch.equal(after[name], before[name]),
                f"{name} did not change: nn.init.normal_(it, mean=0.0, std=std) re-draws it",
            )
            check(
                abs(got / std - 1) < 0.15,
                f"{name} has std {got:.3f}, expected {std}: use the std argument",
            )
        changed = [
            n for n, p in after.items() if "embed." not in n and not torch.equal(p, before[n])
        ]
        check(not changed, f"change only the two embedding tables; you also changed {changed[:3]}")
    passed("check_06_reinit_embeddings", 2)


@isolated
def check_06_rank_correlation(fn: Callable) -> None:
    """fn(x, y) -> Spearman's rank correlation of two pandas Series."""
    x = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0])
    cases = [
        (x, pd.Series([1.0, 4.0, 9.0, 16.0, 1000.0]), 1.0),
        (x, pd.Series([5.0, 4.0, 3.0, 2.0, 1.0]), -1.0),
        (pd.Series([1.0, 2.0, 2.0, 3.0]), pd.Series([1.0, 2.0, 3.0, 4.0]), 0.9486833),
    ]
    for a, b, want in cases:
        got = run(fn, a, b)
        check(isinstance(got, float), f"return a Python float, got {type(got).__name__}")
        if want == 1.0 and abs(got - a.corr(b)) < 1e-6:
            raise AssertionError(
                "that is Pearson's correlation of the values; rank both first (.rank()), so "
                "any increasing relation scores 1"
            )
        check(
            abs(got - want) < 1e-6, f"expected {want:.4f}, got {got:.4f} (ties get average ranks)"
        )
    passed("check_06_rank_correlation", len(cases))


@isolated
def check_06_plans_for(fn: Callable) -> None:
    """fn(n_blocks) -> {name: ModelConfig changes} for all seven sharing strategies."""
    for m in (2, 3):
        plans = run(fn, m)
        check(
            isinstance(plans, dict), f"return a dict of name -> changes, got {type(plans).__name__}"
        )
        sharing = sorted(c.get("sharing") for c in plans.values())
        check(
            sharing == sorted(SHARING_STRATEGIES),
            f"one plan per strategy {list(SHARING_STRATEGIES)}, got sharing values {sharing}",
        )
        for name, changes in plans.items():
            s = changes["sharing"]
            if s in BLOCK_STRATEGIES:
                check(changes.get("n_blocks") == m, f"{name}: {s} needs n_blocks={m} (M)")
            else:
                check(
                    changes.get("n_blocks") is None,
                    f"{name}: {s} has no M; leave n_blocks out",
                )
            try:
                ModelConfig(n_layers=2 * m).replace(**changes)
            except (TypeError, ValueError) as e:
                raise AssertionError(f"{name}: not a valid ModelConfig change: {e}") from None
    passed("check_06_plans_for", 2)


# ---------------------------------------------------------------- notebook 07: embeddings


@isolated
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


@isolated
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


@isolated
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
    saved = before - count_parameters(model)
    check(saved == 50 * 16, f"tying saves V*d = 800 parameters, the count moved by {saved}")
    passed("check_07_tie", 2)


@isolated
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


@isolated
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
        if "index out of range" in str(e) or "size of tensor" in str(e):
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
