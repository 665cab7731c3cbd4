"""Self-checks of notebook 13 (depth on demand): expert-choice routing with a capacity, the
FLOPs of routed recursions, and a random loop count for recurrent-depth training.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/13_depth_on_demand.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from course_lib.exercises.compare import check, check_type, name_mistake
from course_lib.exercises.framework import exercise, passed, run
from course_lib.i18n import _

# (scores, eligible, capacity): one sentence of real tokens, no padding
ROUTE_CASES = [
    ([0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4], [1] * 9, 1 / 3),  # 3 of 9
    ([0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4], [1] * 9, 0.5),  # ceil(4.5) = 5
    ([0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4], [0, 1, 1, 1, 1, 0, 1, 1, 1], 1 / 3),
    ([0.2, 0.95, 0.4, 0.1, 0.3, 0.6, 0.05, 0.7], [1, 0, 1, 0, 1, 0, 1, 1], 0.25),  # 2 of 8
    ([0.2, 0.95, 0.4, 0.1, 0.3, 0.6, 0.05, 0.7], [0, 0, 1, 0, 0, 1, 0, 1], 0.5),  # 4 > 3 left
]


def _top(scores: torch.Tensor, allowed: torch.Tensor, k: int, largest: bool = True):
    masked = scores.masked_fill(~allowed, -math.inf if largest else math.inf)
    k = min(k, int(allowed.sum()))
    mask = torch.zeros_like(allowed)
    mask[masked.topk(k, largest=largest).indices] = True
    return mask


@exercise
def check_13_expert_choice(fn: Callable) -> None:
    """fn(scores, eligible, capacity) -> bool mask: the ceil(capacity x n) eligible tokens
    with the highest scores (all eligible ones if fewer), n = the sentence's tokens."""
    for probs, flags, capacity in ROUTE_CASES:
        scores, eligible = torch.tensor(probs), torch.tensor(flags, dtype=torch.bool)
        n = len(probs)
        got = run(fn, scores.clone(), eligible.clone(), capacity)
        want = _top(scores, eligible, math.ceil(capacity * n - 1e-9))
        if isinstance(got, torch.Tensor) and got.dtype != torch.bool and got.shape != want.shape:
            raise AssertionError(_("return a boolean mask shaped like scores, not the indices"))
        check_type(got, torch.Tensor, _("return a torch.Tensor, got {type}"))
        if got.dtype != torch.bool:
            raise AssertionError(_("return a bool tensor (True = goes on), e.g. a comparison"))
        check(
            got.shape == want.shape,
            _("return one flag per token: shape {want_shape}").format(want_shape=tuple(want.shape)),
        )
        name_mistake(got, want, [
            (_top(scores, eligible, int(capacity * n)), _("capacity x tokens = {share:g} "
                                                          "is rounded UP (math.ceil): a capacity is the least share that goes on").format(share=capacity * n)),
            (_top(scores, eligible, math.ceil(capacity * int(eligible.sum()) - 1e-9)),
             _("the capacity is a share of the sentence's n tokens (len(scores)), not of the "
               "tokens still eligible")),
            (_top(scores, torch.ones_like(eligible), math.ceil(capacity * n - 1e-9)),
             _("only eligible tokens may go on (a token stopped earlier stays stopped): mask "
               "the others out before taking the top k")),
            (_top(scores, eligible, math.ceil(capacity * n - 1e-9), largest=False),
             _("the HIGHEST router scores go on, not the lowest")),
            (eligible, _("the router must choose: keep only the top share, not every eligible token")),
        ])  # fmt: skip
        check(
            torch.equal(got, want),
            _(
                "scores={probs}, eligible={flags}, capacity={capacity:.3g}: expected "
                "{want}, got {got}"
            ).format(
                probs=probs,
                flags=flags,
                capacity=capacity,
                want=want.int().tolist(),
                got=got.int().tolist(),
            ),
        )
    passed("check_13_expert_choice", len(ROUTE_CASES))


def _flops(depth: torch.Tensor, d: int, d_ff: int, recursions: int, keys=None, mult=2, attn=True,
           count=lambda depth, r: int((depth > r).sum())) -> float:  # fmt: skip
    total = 0
    for r in range(recursions):
        n = count(depth, r)
        k = n if keys is None else keys
        total += mult * n * (4 * d * d + 2 * d * d_ff) + (2 * mult * n * k * d if attn else 0)
    return float(total)


@exercise
def check_13_recursion_flops(fn: Callable) -> None:
    """fn(depth, d, d_ff, recursions) -> forward FLOPs of the recursions of one sentence:
    n_r = tokens with depth > r cost 2 n_r (4d^2 + 2 d d_ff) + 4 n_r^2 d at recursion r."""
    cases = [(torch.tensor([3, 1, 2, 1, 3, 1, 0, 0]), 8, 16, 3),
             (torch.tensor([1, 2, 2, 1, 1, 4, 1, 0]), 4, 12, 4)]  # fmt: skip
    for depth, d, ff, rec in cases:
        got = run(fn, depth.clone(), d, ff, rec)
        if isinstance(got, torch.Tensor):
            check(got.numel() == 1, _("return one number, the sentence's total FLOPs"))
            got = got.item()
        check_type(got, int | float, _("return a number, got {type}"))
        want = _flops(depth, d, ff, rec)
        t, real = len(depth), int((depth > 0).sum())
        name_mistake(float(got), want, [
            (_flops(depth, d, ff, rec, count=lambda _d, r, real=real: real),
             _("count only the tokens a recursion computes (depth > r), not every token every "
               "time: that is fixed-depth looping")),
            (_flops(depth, d, ff, rec, count=lambda _d, r, t=t: t),
             _("padding (depth 0) is never computed, and a token stopped earlier not either")),
            (_flops(depth, d, ff, rec, count=lambda dep, r: int((dep == r + 1).sum())),
             _("at recursion r every token still going computes: depth > r, not depth == r + 1")),
            (_flops(depth, d, ff, rec, count=lambda dep, r: int((dep >= r).sum())),
             _("recursion r (from 0) computes the tokens with depth > r: depth >= r counts "
               "padding and one recursion too many")),
            (_flops(depth, d, ff, rec, attn=False),
             _("attention adds 4 n_r^2 d: scores q k^T and weights x v, 2 n_r^2 d each")),
            (_flops(depth, d, ff, rec, keys=t),
             _("the keys at recursion r are the same n_r chosen tokens: 4 n_r^2 d, not 4 n_r T d")),
            (_flops(depth, d, ff, rec, mult=1),
             _("a multiply-add is 2 FLOPs: 2 n_r (4d^2 + 2 d d_ff), not n_r (...)")),
        ], atol=0.5)  # fmt: skip
        check(
            abs(got - want) <= 0.5,
            _("depth={depth}: expected {want:,.0f}, got {got:,.0f}").format(
                depth=depth.tolist(), want=want, got=got
            ),
        )
    passed("check_13_recursion_flops", len(cases))


@exercise
def check_13_sample_loops(fn: Callable) -> None:
    """fn(mean, generator) -> a random loop count, an int >= 1, whose mean over draws is
    ``mean``, drawn with ``generator``."""
    for mean in (4, 2):
        first = run(fn, mean, torch.Generator().manual_seed(0))
        if isinstance(first, torch.Tensor):
            raise AssertionError(_("return a Python int (int(...) or .item()), not a tensor"))
        check_type(first, int, _("return an int, got {type}"))
        g = torch.Generator().manual_seed(1)
        draws = [run(fn, mean, g) for _draw in range(3000)]
        again = [run(fn, mean, torch.Generator().manual_seed(s)) for s in (5, 5, 6, 6)]
        check(
            again[0] == again[1] and again[2] == again[3],
            _(
                "draw with the generator passed in (generator=generator), so a seed repeats the same loop counts"
            ),
        )
        if min(draws) < 1:
            raise AssertionError(
                _("a loop count of 0 skips the core: never below 1 (1 + a count >= 0)")
            )
        if len(set(draws)) == 1:
            raise AssertionError(_("draw at random: every batch gets its own loop count"))
        m = sum(draws) / len(draws)
        if abs(m - (mean + 1)) < 0.15:
            raise AssertionError(
                _(
                    "the mean is {m:.2f}, about mean + 1: 1 + Poisson(rate) has mean 1 + rate"
                ).format(m=m)
            )
        if abs(m - (mean + 1) / 2) < 0.15:
            raise AssertionError(
                _(
                    "the mean is {m:.2f}: a uniform draw from 1..mean has mean (mean + 1) / 2"
                ).format(m=m)
            )
        check(
            abs(m - mean) < 0.15,
            _("mean={mean}: your draws average {m:.2f}, not {mean}").format(mean=mean, m=m),
        )
    passed("check_13_sample_loops", 2)
