"""How the course times things, so that a busy machine cannot fake a speed-up (notebook 08).

A single timing of a model on a shared machine says little: another process may have held
the core. The method used everywhere in the course (notebook 08, ``benchmarks/``):

1. **Interleaved rounds.** ``compare_times`` runs every contender once per round, in a
   rotated order, so a slow spell hits all of them alike.
2. **The median of per-round ratios.** ``paired_ratio(base, other)`` is the median over
   rounds of ``t_base / t_other`` (> 1: ``other`` is faster). A slow round slows both
   sides of its ratio, and the median ignores the rounds it spoiled anyway.
3. **A noise floor from the same run.** The baseline is timed against an identical twin
   (same config, same weights, its own storage). Any ratio between the two is noise, so
   ``noise_floor(base, twin)`` measures how far from 1 noise alone moves a median ratio
   in *this* run, and ``timing_verdict(ratio, floor)`` calls a plan faster or slower only beyond it.
4. **Forward, backward and optimizer step apart.** ``compare_phases`` times the three
   parts of a training step separately (in the same interleaved rounds): they respond to
   sharing differently (the optimizer's work follows the unique parameters, the rest the
   depth; notebook 06 and 08).

Timings are never asserted in tests: the pure functions (``paired_ratio``,
``noise_floor``, ``timing_verdict``) are tested with synthetic numbers.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from course_lib.i18n import N_, _

# the verdict words stay English data (compared in code); _(word) shows one translated

FASTER, SLOWER, WITHIN_NOISE = N_("faster"), N_("slower"), N_("within noise")
TWIN = "none twin"  # the name the course gives the baseline's identical copy
PHASES = ("forward", "backward", "optimizer")


@dataclass(frozen=True)
class Timing:
    median_s: float
    min_s: float
    repeats: int
    times_s: tuple[float, ...] = ()  # every timed call, in order (round r of compare_times)


def _check_counts(warmup: int, repeats: int) -> None:
    if warmup < 0 or repeats < 1:
        raise ValueError(
            _("warmup={warmup}, repeats={repeats} not allowed: need >= 0 and >= 1").format(
                warmup=warmup, repeats=repeats
            )
        )


def _timing(times: list[float]) -> Timing:
    return Timing(statistics.median(times), min(times), len(times), tuple(times))


def sync(device: torch.device | str) -> None:
    """Wait until the device has finished its queued work (CUDA, MPS; a no-op on CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def median_time(
    fn: Callable[[], object], device="cpu", warmup: int = 2, repeats: int = 5
) -> Timing:
    """Median wall time of ``fn()`` after ``warmup`` untimed calls, synchronising the device."""
    _check_counts(warmup, repeats)
    for _round in range(warmup):
        fn()
    sync(device)
    times = []
    for _round in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return _timing(times)


def clock(kind: str = "wall") -> Callable[[], float]:
    """The clock a timing reads: ``"wall"`` (``time.perf_counter``, what a user waits) or
    ``"thread"`` (``time.thread_time``, the CPU time of this thread only: time slices that
    other processes take are not counted; right for torch on one CPU thread)."""
    clocks = {"wall": time.perf_counter, "thread": time.thread_time}
    if kind not in clocks:
        raise ValueError(
            _("clock={kind!r} is not allowed: choose 'wall' or 'thread'").format(kind=kind)
        )
    return clocks[kind]


def _rotated(names: list[str], r: int) -> list[str]:
    return names[r % len(names) :] + names[: r % len(names)]


def compare_times(
    fns: dict[str, Callable[[], object]],
    device="cpu",
    warmup: int = 2,
    repeats: int = 5,
    clock_kind: str = "wall",
) -> dict[str, Timing]:
    """``median_time`` for several functions, interleaved: each round runs every function
    once, in a rotated order, so a slow spell of a shared machine hits all of them alike."""
    _check_counts(warmup, repeats)
    now = clock(clock_kind)
    names = list(fns)
    for _round in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in _rotated(names, r):
            sync(device)
            t0 = now()
            fns[name]()
            sync(device)
            times[name].append(now() - t0)
    return {k: _timing(v) for k, v in times.items()}


def round_ratios(baseline: Timing, other: Timing) -> list[float]:
    """``t_baseline / t_other`` of every round; both must come from one interleaved call."""
    if len(baseline.times_s) != len(other.times_s) or not baseline.times_s:
        raise ValueError(_("paired_ratio needs two Timings from the same compare_times call"))
    return [b / o for b, o in zip(baseline.times_s, other.times_s, strict=True)]


def paired_ratio(baseline: Timing, other: Timing) -> float:
    """Median over rounds of baseline time / other time (> 1: ``other`` is faster)."""
    return statistics.median(round_ratios(baseline, other))


def noise_floor(baseline: Timing, twin: Timing) -> float:
    """How far from 1 noise alone can move a median ratio in this run, from the baseline's twin.

    The per-round ratios ``t_baseline / t_twin`` of two identical models would all be 1 on
    a quiet machine. The floor adds two things they show: how far their median lands from
    1, and two standard errors of a median of that many rounds, 1.25 s / sqrt(rounds),
    with the spread s estimated robustly from the interquartile range (s = IQR / 1.35).
    """
    ratios = round_ratios(baseline, twin)
    if len(ratios) < 4:
        raise ValueError(_("a noise floor needs >= 4 rounds, got {n}").format(n=len(ratios)))
    q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    spread = (q3 - q1) / 1.35  # the standard deviation, if the rounds were normal
    return abs(median - 1) + 2 * 1.25 * spread / math.sqrt(len(ratios))


def timing_verdict(ratio: float, floor: float) -> str:
    """``"faster"`` / ``"slower"`` when ``ratio`` (t_base / t_plan) departs from 1 by more
    than the noise ``floor``, else ``"within noise"``."""
    if not (ratio > 0 and floor >= 0):
        raise ValueError(
            _("ratio={ratio!r} must be > 0 and floor={floor!r} >= 0").format(
                ratio=ratio, floor=floor
            )
        )
    if ratio > 1 + floor:
        return FASTER
    if ratio < 1 - floor:
        return SLOWER
    return WITHIN_NOISE


def ratio_table(times: dict[str, Timing], baseline: str = "none", twin: str = TWIN) -> list[dict]:
    """One row per contender: median ms, ratio to ``baseline``, the run's floor, verdict."""
    for name in (baseline, twin):
        if name not in times:
            raise ValueError(
                _("the timings lack {name!r}: got {names}").format(name=name, names=sorted(times))
            )
    floor = noise_floor(times[baseline], times[twin])
    rows = []
    for name, t in times.items():
        ratio = paired_ratio(times[baseline], t)
        rows.append({"plan": name, "ms": 1e3 * t.median_s, "ratio": ratio, "floor": floor,
                     "verdict": timing_verdict(ratio, floor)})  # fmt: skip
    return rows


def compare_phases(
    steps: dict[str, tuple[nn.Module, Callable[[], torch.Tensor], torch.optim.Optimizer]],
    device="cpu",
    warmup: int = 1,
    repeats: int = 5,
    clock_kind: str = "wall",
) -> dict[str, dict[str, Timing]]:
    """Time forward, backward and optimizer step of several models apart, interleaved.

    ``steps[name] = (model, loss_fn, optimizer)``, ``loss_fn()`` running the forward pass
    and returning the loss. Returns ``{phase: {name: Timing}}`` for the three ``PHASES``
    and ``"train_step"``, their sum, all from the same rounds.
    """
    _check_counts(warmup, repeats)
    now = clock(clock_kind)
    names = list(steps)
    out: dict[str, dict[str, list[float]]] = {p: {n: [] for n in names} for p in PHASES}
    for r in range(warmup + repeats):
        for name in _rotated(names, r):
            model, loss_fn, opt = steps[name]
            model.train()
            opt.zero_grad(set_to_none=True)
            sync(device)
            t0 = now()
            loss = loss_fn()
            sync(device)
            t1 = now()
            loss.backward()
            sync(device)
            t2 = now()
            opt.step()
            sync(device)
            t3 = now()
            if r >= warmup:
                for phase, dt in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                    out[phase][name].append(dt)
    result = {p: {n: _timing(v) for n, v in by_name.items()} for p, by_name in out.items()}
    result["train_step"] = {
        n: _timing([sum(out[p][n][i] for p in PHASES) for i in range(repeats)]) for n in names
    }
    return result
