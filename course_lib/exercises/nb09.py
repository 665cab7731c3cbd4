"""Self-checks of notebook 09 (depth for free): same parameters deeper, ACT halting, sequence accuracy.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/09_depth_for_free.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.config import BLOCK_STRATEGIES, ModelConfig
from course_lib.exercises.compare import check, check_type
from course_lib.exercises.framework import exercise, if_error_says, passed, run
from course_lib.i18n import _
from course_lib.nn.counts import count_parameters
from course_lib.nn.looped import IGNORE
from course_lib.nn.model import build_model


@exercise
def check_09_same_params_deeper(fn: Callable) -> None:
    """fn(cfg, factor) -> a config with factor x the layers and cfg's unique parameters."""
    for n, factor in ((3, 2), (2, 3), (4, 2)):
        cfg = ModelConfig.preset("tiny", n_layers=n, d_model=32, d_ff=64)
        deep = run(
            fn,
            cfg,
            factor,
            likely=if_error_says(
                "n_blocks",
                hint=_(
                    "a block plan needs its M: cfg.replace(n_layers=..., sharing='cycle', "
                    "n_blocks=M)"
                ),
            ),
        )
        if isinstance(deep, torch.nn.Module):
            raise AssertionError(_("return the ModelConfig (cfg.replace(...)), not a built model"))
        check_type(deep, ModelConfig, _("return a ModelConfig, got {type}"))
        check(
            deep.n_layers == factor * n,
            _("the deeper model runs factor x N = {factor_n} layers, got {n_layers}").format(
                factor_n=factor * n, n_layers=deep.n_layers
            ),
        )
        if deep.sharing == "none":
            raise AssertionError(
                _(
                    "sharing='none' at {factor_n} layers stores {factor} x the parameters: "
                    "cycle through the N blocks of cfg instead, sharing='cycle' with M = N"
                ).format(factor_n=factor * n, factor=factor)
            )
        if deep.sharing == "all":
            raise AssertionError(
                _("'all' keeps ONE block; keep N blocks: CYCLE or SEQUENCE, M = N")
            )
        check(
            deep.sharing in BLOCK_STRATEGIES,
            _(
                "use sharing='cycle' (or 'sequence', 'cycle_rev') with n_blocks=M, not {sharing!r}"
            ).format(sharing=deep.sharing),
        )
        same = {k: v for k, v in deep.to_dict().items() if k not in ("n_layers", "sharing",
                                                                      "n_blocks")}  # fmt: skip
        check(
            same == {k: cfg.to_dict()[k] for k in same},
            _("change only n_layers, sharing and n_blocks: cfg.replace(...)"),
        )
        want, got = count_parameters(build_model(cfg)), count_parameters(build_model(deep))
        check(
            got == want,
            _(
                "n_blocks=M must equal the shallow model's N={n} for equal parameters "
                "({want:,}); yours has {got:,}"
            ).format(n=n, want=want, got=got),
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
    ([0.5, 0.25, 0.5], 0.25),  # exactly 1 - eps = 0.75 at step 2 (dyadic: no rounding)
]


@exercise
def check_09_act_halting(fn: Callable) -> None:
    """fn(p, eps) -> (n_steps, weights): ACT's halting step and weights for one position."""
    for probs, eps in ACT_CASES:
        p = torch.tensor(probs)
        out = run(fn, p.clone(), eps)
        check(isinstance(out, tuple) and len(out) == 2, _("return a pair (n_steps, weights)"))
        n, w = out
        want_n, want_w = _act_reference(p, eps)
        if isinstance(w, list | tuple):
            raise AssertionError(_("return the weights as a tensor shaped like p, not a list"))
        check(
            isinstance(w, torch.Tensor) and w.shape == p.shape,
            _("weights: a tensor of shape {shape}, one per step, 0 after halting").format(
                shape=tuple(p.shape)
            ),
        )
        if int(n) == want_n + 1 and abs(float(p[:want_n].sum()) - (1 - eps)) < 1e-9:
            raise AssertionError(
                _(
                    "p={probs}: the sum reaches exactly 1 - eps = {limit} at step {want_n}, and "
                    "that halts: >=, not >"
                ).format(probs=probs, limit=1 - eps, want_n=want_n)
            )
        if int(n) != want_n and int(n) == _act_reference(p, 0.0)[0]:
            raise AssertionError(
                _("halt as soon as the sum reaches 1 - eps (Graves' epsilon), not 1 itself")
            )
        if int(n) == want_n - 1:
            raise AssertionError(
                _(
                    "p={probs}: n is 1-based, the number of steps run: the first step is n = 1"
                ).format(probs=probs)
            )
        if int(n) != want_n and float(p.sum()) < 1 - eps:
            raise AssertionError(
                _("a position must halt at the last step even if the sum is short")
            )
        check(
            int(n) == want_n,
            _("p={probs}: halt at step {want_n} (1-based), got {n}").format(
                probs=probs, want_n=want_n, n=n
            ),
        )
        if want_n < len(p) and bool((w[want_n:] != 0).any()):
            raise AssertionError(
                _("the steps after halting get weight 0: the position stopped computing there")
            )
        if abs(float(w.sum()) - 1) > 1e-5:
            raise AssertionError(
                _(
                    "the weights must sum to 1: the last one is the remainder R = 1 - (p_1 + ... "
                    "+ p_{N-1}), not p_N"
                )
            )
        check(
            torch.allclose(w.float(), want_w, atol=1e-6),
            _("p={probs}: expected weights {want}, got {got}").format(
                probs=probs, want=want_w.tolist(), got=w.tolist()
            ),
        )
    passed("check_09_act_halting", len(ACT_CASES))


@exercise
def check_09_sequence_accuracy(fn: Callable) -> None:
    """fn(pred, targets) -> fraction of rows whose every output slot is right."""
    t = torch.tensor([[IGNORE, IGNORE, 5, 6], [IGNORE, IGNORE, 7, 8], [IGNORE, IGNORE, 4, 4],
                      [IGNORE, IGNORE, 9, 9]])  # fmt: skip
    pred = torch.tensor([[1, 2, 5, 6], [3, 3, 7, 0], [0, 0, 4, 4], [9, 9, 9, 9]])
    got = run(fn, pred, t)
    if isinstance(got, torch.Tensor) and got.numel() > 1 or isinstance(got, list):
        raise AssertionError(
            _("that is one verdict per row: return the fraction of rows fully right, one float")
        )
    if isinstance(got, torch.Tensor):
        raise AssertionError(_("return a Python float (.item()), not a tensor"))
    if isinstance(got, int) and got == 3:
        raise AssertionError(
            _("return the FRACTION of rows fully right, 3 / 4 here, not the count")
        )
    check_type(got, float, _("return a float in [0, 1], got {type}"))
    if abs(got - 0.0) < 1e-9:
        raise AssertionError(
            _(
                "compare only the output slots, targets != IGNORE (IGNORE = {IGNORE}, from "
                "course_lib.nn.looped): the input positions have no answer to match"
            ).format(IGNORE=IGNORE)
        )
    if abs(got - 1.0) < 1e-9:
        raise AssertionError(
            _("a row counts only if ALL its answer slots are right (.all), not if any is")
        )
    if abs(got - 7 / 8) < 1e-9:
        raise AssertionError(
            _("that is the digit accuracy; an answer counts only if ALL its digits are right")
        )
    check(
        abs(got - 0.75) < 1e-9,
        _("3 of 4 answers are fully right here: 0.75, got {got}").format(got=got),
    )
    passed("check_09_sequence_accuracy", 1)
