"""Self-checks of notebook 08 (speed and memory): training-state bytes, FLOPs, paired timing ratios.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/08_speed_and_memory.py``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import pandas as pd
import torch

from course_lib.config import BLOCK_STRATEGIES, ModelConfig
from course_lib.data.synthetic import synthetic_batch
from course_lib.exercises.compare import check, check_type
from course_lib.exercises.framework import exercise, passed, run
from course_lib.i18n import N_, _
from course_lib.measure.cost import analytic_flops, training_state_memory
from course_lib.nn.counts import count_parameters
from course_lib.nn.model import build_model

STATE_CASES = [dict(sharing="none"), dict(sharing="all"), dict(sharing="cycle", n_blocks=2),
               dict(sharing="ffn", n_layers=3)]  # fmt: skip


@exercise
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
        per_use = sum(p.numel() for _name, p in model.named_parameters(remove_duplicate=False))
        name = plan["sharing"]
        if (
            isinstance(got, float)
            and got != want
            and min(abs(got - want / 2**20), abs(got - want / 1e6)) < 1e-6
        ):
            raise AssertionError(_("return bytes, an int, not megabytes"))
        if isinstance(got, float) and got == want:
            raise AssertionError(_("return an int number of bytes, not a float"))
        check_type(got, int, _("return an int (bytes), got {type}"))
        named = {
            4 * unique: _(
                "that is the weights alone: each stored parameter also has a gradient and "
                "AdamW's two moments, 16 bytes in all, plus the step counters"
            ),
            8 * unique: _(
                "weights and gradients: add AdamW's two moments (exp_avg, exp_avg_sq), "
                "4 bytes each per parameter, and the step counters"
            ),
            16 * unique + 8 * n_tensors: _(
                "AdamW's step counter is a float32 scalar tensor: 4 bytes per tensor, not 8"
            ),
            16 * unique + 4: _(
                "AdamW keeps one step counter PER TENSOR, not one for the model: "
                "4 x the number of tensors in model.parameters()"
            ),
        }
        if got != want and got in named:
            raise AssertionError(named[got])
        if got != want and got == 16 * per_use + 4 * n_tensors and per_use != unique:
            raise AssertionError(
                _(
                    "sharing={name!r}: you counted every use of a shared tensor; it is stored, "
                    "has a gradient and AdamW state ONCE: use model.parameters()"
                ).format(name=name)
            )
        if got == 16 * unique:
            raise AssertionError(
                _(
                    "almost: AdamW also keeps a step count per tensor, a float32 scalar tensor "
                    "(4 bytes each): add 4 x the number of tensors in model.parameters()"
                )
            )
        if got in (12 * unique + 4 * n_tensors, 8 * unique, 12 * unique):
            raise AssertionError(
                _(
                    "count all four fp32 copies per parameter: the weight, its gradient, and "
                    "AdamW's two moments (exp_avg, exp_avg_sq): 16 bytes, plus the step counters"
                )
            )
        check(
            got == want,
            _("sharing={name!r}: the measured total is {want:,} bytes, got {got:,}").format(
                name=name, want=want, got=got
            ),
        )
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
    "parameters": N_("every distinct block is stored once, however many layers use it"),
    "gradients": N_("a shared weight has one gradient, the sum over its uses"),
    "adamw_state": N_("AdamW keeps two moments per stored parameter, not per use"),
    "allreduce_bytes": N_("DDP all-reduces each parameter's gradient once: one per stored tensor"),
    "activations": N_("every layer saves its own inputs for backward, shared weights or not"),
    "flops_per_token": N_("every layer multiplies its input by its (possibly shared) weights"),
}


@exercise
def check_08_depends_on(fn: Callable) -> None:
    """fn(quantity) -> "M" (distinct blocks) or "N" (layers run) for each quantity."""
    for quantity, want in DEPENDS.items():
        got = run(fn, quantity)
        if got in ("m", "n"):
            raise AssertionError(
                _("{quantity}: answer with a capital letter, 'M' or 'N'").format(quantity=quantity)
            )
        check(
            got in ("M", "N"),
            _("{quantity}: answer 'M' or 'N', got {got!r}").format(quantity=quantity, got=got),
        )
        check(
            got == want,
            _("{quantity} depends on {want}: {why}").format(
                quantity=quantity, want=want, why=_(WHY[quantity])
            ),
        )
    passed("check_08_depends_on", len(DEPENDS))


@exercise
def check_08_layer_flops_per_token(fn: Callable) -> None:
    """fn(d, d_ff, seq_len) -> one layer's forward FLOPs per token, as FlopCounterMode counts."""
    for d, ff, t in ((256, 1024, 64), (64, 256, 16), (48, 100, 7)):
        got = run(fn, d, ff, t)
        one = ModelConfig(vocab_size=10, d_model=d, n_heads=4, d_ff=ff, n_layers=1, max_len=t)
        two = one.replace(n_layers=2)
        want = (analytic_flops(two, 1, t).total - analytic_flops(one, 1, t).total) // t
        check_type(got, int | float, _("return a number, got {type}"))
        if got * 2 == want:
            raise AssertionError(_("count a multiply-add as 2 FLOPs (one multiply, one add)"))
        if got == want * t:
            raise AssertionError(
                _(
                    "that is the whole sequence of T={t} tokens; the question is per token: "
                    "divide by T"
                ).format(t=t)
            )
        if got == 8 * d * d + 4 * t * t * d + 4 * d * ff:
            raise AssertionError(
                _(
                    "per token, a query meets T keys: Q K^T and weights @ V cost 2*T*d each per "
                    "token; T^2 is the count for the whole sequence"
                )
            )
        if got == 8 * d * d + 4 * t * d + 2 * d * ff:
            raise AssertionError(_("the FFN has two matrices, d x d_ff and d_ff x d: 2 x 2*d*d_ff"))
        if got == 6 * d * d + 4 * t * d + 4 * d * ff:
            raise AssertionError(
                _("attention has four projections, Q, K, V and the output: 4 x 2d^2")
            )
        if got == 8 * d * d + 4 * d * ff:
            raise AssertionError(
                _("add the attention scores: Q K^T and weights @ V each cost 2*T*d per token")
            )
        if got == 8 * d * d + 2 * t * d + 4 * d * ff:
            raise AssertionError(_("weights @ V costs as much as Q K^T: 2*T*d each, 4*T*d in all"))
        if got == 4 * d * d + 2 * d * ff + 2 * t * d:
            raise AssertionError(_("2 FLOPs per multiply-add: double every term"))
        check(
            got == want,
            _(
                "d={d}, d_ff={ff}, T={t}: expected {want:,}; Q, K, V, out 4 x 2d^2, scores 2 x 2Td, "
                "FFN 2 x 2 d d_ff; got {got:,}"
            ).format(d=d, ff=ff, t=t, want=want, got=got),
        )
    passed("check_08_layer_flops_per_token", 3)


@exercise
def check_08_paired_ratio(fn: Callable) -> None:
    """fn(base_times, other_times) -> median over rounds of base / other (> 1: other faster)."""
    base = [1.0, 9.0, 2.0, 1.1, 1.0]  # round 2 hit a busy spell ...
    other = [0.8, 4.5, 1.0, 0.5, 2.0]  # ... for both; round 5 only for `other`
    want = statistics.median(b / o for b, o in zip(base, other, strict=True))
    got = run(fn, list(base), list(other))
    if isinstance(got, list | tuple):
        raise AssertionError(
            _("those are the ratios round by round: return their median, one number")
        )
    check_type(got, int | float, _("return a number, got {type}"))
    if (
        abs(
            got - statistics.median(b / o for b, o in zip(sorted(base), sorted(other), strict=True))
        )
        < 1e-9
    ):
        raise AssertionError(
            _(
                "keep round r of base with round r of other: sorting the lists first pairs "
                "times from different rounds"
            )
        )
    if abs(got - statistics.mean(base) / statistics.mean(other)) < 1e-9:
        raise AssertionError(
            _(
                "that is the ratio of the means: divide round by round first, then take the "
                "median of those ratios"
            )
        )
    if abs(got - 1 / want) < 1e-9:
        raise AssertionError(_("upside down: base / other, so > 1 means `other` is faster"))
    if abs(got - statistics.median(base) / statistics.median(other)) < 1e-9:
        raise AssertionError(
            _(
                "that is the ratio of the medians: divide round by round first (round r of both "
                "ran back to back), then take the median of those ratios"
            )
        )
    mean = sum(b / o for b, o in zip(base, other, strict=True)) / len(base)
    if abs(got - mean) < 1e-9:
        raise AssertionError(_("take the median of the per-round ratios, not the mean: one slow " "round should not move it"))  # fmt: skip
    check(abs(got - want) < 1e-9, _("expected {want:.4f}, got {got}").format(want=want, got=got))
    check(abs(run(fn, [2.0, 2.0], [1.0, 1.0]) - 2.0) < 1e-9, _("twice as fast gives 2.0"))
    passed("check_08_paired_ratio", 2)


def _sweep_rows(values: dict[tuple[str, int], tuple[float, float, float]]) -> pd.DataFrame:
    rows = []
    for (dataset, n), speeds in values.items():
        for sharing, v in zip(BLOCK_STRATEGIES, speeds, strict=True):
            rows.append(dict(dataset=dataset, n_layers=n, sharing=sharing, tokens_per_s=v))
        rows.append(dict(dataset=dataset, n_layers=n, sharing="all", tokens_per_s=10 * speeds[0]))
    return pd.DataFrame(rows)


@exercise
def check_08_noise_floor(fn: Callable) -> None:
    """fn(df) -> {(dataset, n_layers): max / min tokens_per_s among sequence, cycle, cycle_rev}."""
    values = {("text", 6): (100.0, 125.0, 110.0), ("text", 12): (50.0, 50.0, 40.0),
              ("chars", 6): (80.0, 60.0, 90.0)}  # fmt: skip
    got = run(fn, _sweep_rows(values))
    want = {k: max(v) / min(v) for k, v in values.items()}
    if isinstance(got, pd.Series | pd.DataFrame):
        raise AssertionError(
            _(
                "return a dict keyed by (dataset, n_layers), not a {type}: "
                "a grouped Series becomes one with .to_dict()"
            ).format(type=type(got).__name__)
        )
    check(
        isinstance(got, dict),
        _("return a dict keyed by (dataset, n_layers), got {type}").format(type=type(got)),
    )
    if got and all(not isinstance(k, tuple) for k in got):
        raise AssertionError(
            _("key by the pair (dataset, n_layers), e.g. ('text', 6); got keys {keys}").format(
                keys=sorted(got)[:3]
            )
        )
    check(
        set(got) == set(want),
        _("one entry per (dataset, n_layers) pair: expected keys {want}, got {got}").format(
            want=sorted(want), got=sorted(got)
        ),
    )
    for key, w in want.items():
        g = got[key]
        if g > w + 1e-9 and g >= 5:
            raise AssertionError(
                _(
                    "use only sequence, cycle and cycle_rev: same parameters and same compute, so "
                    "their spread is noise; other plans differ for real"
                )
            )
        if abs(g - min(values[key]) / max(values[key])) < 1e-9:
            raise AssertionError(_("max over min, so the spread is a number >= 1"))
        if abs(g - (w - 1)) < 1e-9:
            raise AssertionError(_("the ratio max / min itself, not (max - min) / min"))
        if abs(g - max(values[key]) / (sum(values[key]) / 3)) < 1e-9:
            raise AssertionError(
                _("divide the largest by the SMALLEST tokens_per_s, not by the mean")
            )
        check(abs(g - w) < 1e-9, _("{key}: expected {w:.4f}, got {g}").format(key=key, w=w, g=g))
    passed("check_08_noise_floor", len(want))
