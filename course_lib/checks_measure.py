"""Self-checks for the exercises of notebooks 08 (speed and memory) and 09 (depth for free).

Same framework as ``course_lib.checks`` (``check``, ``run``, ``isolated``, ``passed``):
each ``check_NN_name(fn)`` tries the learner's function on a few inputs, recognises the
usual mistakes and raises ``AssertionError`` with a hint that names the fix. Reference
solutions: ``load_solution("08_speed_and_memory")`` and ``"09_depth_for_free"``;
``tests/test_checks_measure.py`` shows each passes and each check rejects a wrong answer.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import pandas as pd
import torch

from .checks import check, isolated, passed, run
from .config import ModelConfig
from .cost import analytic_flops, synthetic_batch, training_state_memory
from .looped import IGNORE
from .measure import count_parameters
from .model import build_model

# ------------------------------------------------------------ notebook 08: speed and memory

STATE_CASES = [dict(sharing="none"), dict(sharing="all"), dict(sharing="cycle", n_blocks=2),
               dict(sharing="ffn", n_layers=3)]  # fmt: skip


@isolated
def check_08_training_state_bytes(fn: Callable) -> None:
    """fn(model) -> bytes of fp32 weights + gradients + AdamW state, each shared tensor once."""
    for plan in STATE_CASES:
        cfg = ModelConfig.preset("tiny", d_model=32, d_ff=64, **plan)
        torch.manual_seed(0)
        model = build_model(cfg)
        got = run(fn, model)
        ids, y = synthetic_batch(cfg, 2, 8)
        want = training_state_memory(build_model(cfg), ids, y).total  # measured on real tensors
        unique, n_tensors = count_parameters(model), len(list(model.parameters()))
        per_use = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
        check(isinstance(got, int), f"return an int (bytes), got {type(got).__name__}")
        name = plan["sharing"]
        if got != want and got == 16 * per_use + 4 * n_tensors and per_use != unique:
            raise AssertionError(
                f"sharing={name!r}: you counted every use of a shared tensor; it is stored, "
                "has a gradient and AdamW state ONCE: use model.parameters()"
            )
        if got == 16 * unique:
            raise AssertionError(
                "almost: AdamW also keeps a step count per tensor, a float32 scalar tensor "
                "(4 bytes each): add 4 x the number of tensors in model.parameters()"
            )
        if got in (12 * unique + 4 * n_tensors, 8 * unique, 12 * unique):
            raise AssertionError(
                "count all four fp32 copies per parameter: the weight, its gradient, and "
                "AdamW's two moments (exp_avg, exp_avg_sq): 16 bytes, plus the step counters"
            )
        check(got == want, f"sharing={name!r}: the measured total is {want:,} bytes, got {got:,}")
    passed("check_08_training_state_bytes", len(STATE_CASES))


DEPENDS = {
    "parameters": "M",
    "gradients": "M",
    "adamw_state": "M",
    "allreduce_bytes": "M",
    "activations": "N",
    "flops_per_token": "N",
}
WHY = {
    "parameters": "every distinct block is stored once, however many layers use it",
    "gradients": "a shared weight has one gradient, the sum over its uses",
    "adamw_state": "AdamW keeps two moments per stored parameter, not per use",
    "allreduce_bytes": "DDP all-reduces each parameter's gradient once: one per stored tensor",
    "activations": "every layer saves its own inputs for backward, shared weights or not",
    "flops_per_token": "every layer multiplies its input by its (possibly shared) weights",
}


@isolated
def check_08_depends_on(fn: Callable) -> None:
    """fn(quantity) -> "M" (distinct blocks) or "N" (layers run) for each quantity."""
    for quantity, want in DEPENDS.items():
        got = run(fn, quantity)
        check(got in ("M", "N"), f"{quantity}: answer 'M' or 'N', got {got!r}")
        check(got == want, f"{quantity} depends on {want}: {WHY[quantity]}")
    passed("check_08_depends_on", len(DEPENDS))


@isolated
def check_08_layer_flops_per_token(fn: Callable) -> None:
    """fn(d, d_ff, seq_len) -> one layer's forward FLOPs per token, as FlopCounterMode counts."""
    for d, ff, t in ((256, 1024, 64), (64, 256, 16), (48, 100, 7)):
        got = run(fn, d, ff, t)
        one = ModelConfig(vocab_size=10, d_model=d, n_heads=4, d_ff=ff, n_layers=1, max_len=t)
        two = one.replace(n_layers=2)
        want = (analytic_flops(two, 1, t).total - analytic_flops(one, 1, t).total) // t
        check(isinstance(got, int | float), f"return a number, got {type(got).__name__}")
        if got * 2 == want:
            raise AssertionError("count a multiply-add as 2 FLOPs (one multiply, one add)")
        if got == 8 * d * d + 4 * d * ff:
            raise AssertionError(
                "add the attention scores: Q K^T and weights @ V each cost 2*T*d per token"
            )
        if got == 8 * d * d + 2 * t * d + 4 * d * ff:
            raise AssertionError("weights @ V costs as much as Q K^T: 2*T*d each, 4*T*d in all")
        if got == 4 * d * d + 2 * d * ff + 2 * t * d:
            raise AssertionError("2 FLOPs per multiply-add: double every term")
        check(
            got == want,
            f"d={d}, d_ff={ff}, T={t}: expected {want:,}; Q, K, V, out 4 x 2d^2, scores 2 x 2Td, "
            f"FFN 2 x 2 d d_ff; got {got:,}",
        )
    passed("check_08_layer_flops_per_token", 3)


@isolated
def check_08_paired_ratio(fn: Callable) -> None:
    """fn(base_times, other_times) -> median over rounds of base / other (> 1: other faster)."""
    base = [1.0, 9.0, 2.0, 1.1, 1.0]  # round 2 hit a busy spell ...
    other = [0.5, 4.5, 1.0, 0.5, 2.0]  # ... for both; round 5 only for `other`
    want = statistics.median(b / o for b, o in zip(base, other, strict=True))
    got = run(fn, list(base), list(other))
    check(isinstance(got, int | float), f"return a number, got {type(got).__name__}")
    if abs(got - 1 / want) < 1e-9:
        raise AssertionError("upside down: base / other, so > 1 means `other` is faster")
    if abs(got - statistics.median(base) / statistics.median(other)) < 1e-9:
        raise AssertionError(
            "that is the ratio of the medians: divide round by round first (round r of both "
            "ran back to back), then take the median of those ratios"
        )
    mean = sum(b / o for b, o in zip(base, other, strict=True)) / len(base)
    if abs(got - mean) < 1e-9:
        raise AssertionError("take the median of the per-round ratios, not the mean: one slow "
                             "round should not move it")  # fmt: skip
    check(abs(got - want) < 1e-9, f"expected {want:.4f}, got {got}")
    check(abs(run(fn, [2.0, 2.0], [1.0, 1.0]) - 2.0) < 1e-9, "twice as fast gives 2.0")
    passed("check_08_paired_ratio", 2)


def _sweep_rows(values: dict[tuple[str, int], tuple[float, float, float]]) -> pd.DataFrame:
    rows = []
    for (dataset, n), speeds in values.items():
        for sharing, v in zip(("sequence", "cycle", "cycle_rev"), speeds, strict=True):
            rows.append(dict(dataset=dataset, n_layers=n, sharing=sharing, tokens_per_s=v))
        rows.append(dict(dataset=dataset, n_layers=n, sharing="all", tokens_per_s=10 * speeds[0]))
    return pd.DataFrame(rows)


@isolated
def check_08_noise_floor(fn: Callable) -> None:
    """fn(df) -> {(dataset, n_layers): max / min tokens_per_s among sequence, cycle, cycle_rev}."""
    values = {("text", 6): (100.0, 125.0, 110.0), ("text", 12): (50.0, 50.0, 40.0),
              ("chars", 6): (80.0, 60.0, 90.0)}  # fmt: skip
    got = run(fn, _sweep_rows(values))
    want = {k: max(v) / min(v) for k, v in values.items()}
    check(isinstance(got, dict), f"return a dict keyed by (dataset, n_layers), got {type(got)}")
    check(
        set(got) == set(want),
        f"one entry per (dataset, n_layers) pair: expected keys {sorted(want)}, got {sorted(got)}",
    )
    for key, w in want.items():
        g = got[key]
        if g > w + 1e-9 and g >= 5:
            raise AssertionError(
                "use only sequence, cycle and cycle_rev: same parameters and same compute, so "
                "their spread is noise; other plans differ for real"
            )
        if abs(g - min(values[key]) / max(values[key])) < 1e-9:
            raise AssertionError("max over min, so the spread is a number >= 1")
        check(abs(g - w) < 1e-9, f"{key}: expected {w:.4f}, got {g}")
    passed("check_08_noise_floor", len(want))


# ------------------------------------------------------------ notebook 09: depth for free


@isolated
def check_09_same_params_deeper(fn: Callable) -> None:
    """fn(cfg, factor) -> a config with factor x the layers and cfg's unique parameters."""
    for n, factor in ((3, 2), (2, 3), (4, 2)):
        cfg = ModelConfig.preset("tiny", n_layers=n, d_model=32, d_ff=64)
        deep = run(fn, cfg, factor)
        check(isinstance(deep, ModelConfig), f"return a ModelConfig, got {type(deep).__name__}")
        check(
            deep.n_layers == factor * n,
            f"the deeper model runs factor x N = {factor * n} layers, got {deep.n_layers}",
        )
        if deep.sharing == "all":
            raise AssertionError("'all' keeps ONE block; keep N blocks: CYCLE or SEQUENCE, M = N")
        check(
            deep.sharing in ("sequence", "cycle", "cycle_rev"),
            f"use sharing='cycle' (or 'sequence', 'cycle_rev') with n_blocks=M, not "
            f"{deep.sharing!r}",
        )
        want, got = count_parameters(build_model(cfg)), count_parameters(build_model(deep))
        check(
            got == want,
            f"n_blocks=M must equal the shallow model's N={n} for equal parameters "
            f"({want:,}); yours has {got:,}",
        )
        same = {k: v for k, v in deep.to_dict().items() if k not in ("n_layers", "sharing",
                                                                      "n_blocks")}  # fmt: skip
        check(
            same == {k: cfg.to_dict()[k] for k in same},
            "change only n_layers, sharing and n_blocks: cfg.replace(...)",
        )
    passed("check_09_same_params_deeper", 3)


def _act_reference(p: torch.Tensor, eps: float) -> tuple[int, torch.Tensor]:
    weights, total = torch.zeros_like(p), 0.0
    for n in range(len(p)):
        if total + float(p[n]) >= 1 - eps or n == len(p) - 1:
            weights[n] = 1 - total
            return n + 1, weights
        weights[n] = p[n]
        total += float(p[n])
    raise AssertionError("unreachable")


ACT_CASES = [
    ([0.3, 0.3, 0.3, 0.3, 0.3], 0.01),  # halts at step 4: 1.2 >= 0.99
    ([0.1, 0.1, 0.1, 0.1], 0.01),  # never reaches 0.99: forced halt at the last step
    ([0.995, 0.5, 0.5], 0.01),  # one step is enough
    ([0.5, 0.495, 0.2, 0.2], 0.01),  # 0.995 >= 0.99 at step 2, though below 1
]


@isolated
def check_09_act_halting(fn: Callable) -> None:
    """fn(p, eps) -> (n_steps, weights): ACT's halting step and weights for one position."""
    for probs, eps in ACT_CASES:
        p = torch.tensor(probs)
        out = run(fn, p.clone(), eps)
        check(isinstance(out, tuple) and len(out) == 2, "return a pair (n_steps, weights)")
        n, w = out
        want_n, want_w = _act_reference(p, eps)
        check(
            isinstance(w, torch.Tensor) and w.shape == p.shape,
            f"weights: a tensor of shape {tuple(p.shape)}, one per step, 0 after halting",
        )
        if int(n) != want_n and int(n) == _act_reference(p, 0.0)[0]:
            raise AssertionError(
                "halt as soon as the sum reaches 1 - eps (Graves' epsilon), not 1 itself"
            )
        if int(n) != want_n and float(p.sum()) < 1 - eps:
            raise AssertionError("a position must halt at the last step even if the sum is short")
        check(int(n) == want_n, f"p={probs}: halt at step {want_n} (1-based), got {n}")
        if abs(float(w.sum()) - 1) > 1e-5:
            raise AssertionError(
                "the weights must sum to 1: the last one is the remainder R = 1 - (p_1 + ... "
                "+ p_{N-1}), not p_N"
            )
        check(
            torch.allclose(w.float(), want_w, atol=1e-6),
            f"p={probs}: expected weights {want_w.tolist()}, got {w.tolist()}",
        )
    passed("check_09_act_halting", len(ACT_CASES))


@isolated
def check_09_sequence_accuracy(fn: Callable) -> None:
    """fn(pred, targets) -> fraction of rows whose every output slot is right."""
    t = torch.tensor([[IGNORE, IGNORE, 5, 6], [IGNORE, IGNORE, 7, 8], [IGNORE, IGNORE, 4, 4],
                      [IGNORE, IGNORE, 9, 9]])  # fmt: skip
    pred = torch.tensor([[1, 2, 5, 6], [3, 3, 7, 0], [0, 0, 4, 4], [9, 9, 9, 9]])
    got = run(fn, pred, t)
    check(isinstance(got, float), f"return a float in [0, 1], got {type(got).__name__}")
    if abs(got - 0.0) < 1e-9:
        raise AssertionError(
            "compare only the output slots (targets != IGNORE): the input positions have no "
            "answer to match"
        )
    if abs(got - 7 / 8) < 1e-9:
        raise AssertionError(
            "that is the digit accuracy; an answer counts only if ALL its digits are right"
        )
    check(abs(got - 0.75) < 1e-9, f"3 of 4 answers are fully right here: 0.75, got {got}")
    passed("check_09_sequence_accuracy", 1)
