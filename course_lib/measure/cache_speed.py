"""When is a shared model faster? Weights against the CPU's caches, measured (notebook 08).

At equal depth N a shared and an unshared model do exactly the same FLOPs; what differs is
how many *distinct* weight bytes a forward pass reads. MobileLLM (Liu et al. 2024) argues
that on-device decoding is memory-bound: at batch 1 every weight is used for one token,
so time goes into fetching weights, and a block that is still in cache the second time
comes almost free. At a large batch each fetched weight serves many tokens, the
arithmetic dominates, and the advantage should vanish.

``cache_experiment`` tests exactly that on the machine at hand: for growing widths d it
times one decoding step (one new token per sequence) of ``none`` (N blocks), ``all`` (one
block N times) and an identical twin of ``none`` (the noise floor, ``course_lib.measure.timing``),
at batch 1 and at a large batch. ``cache_sizes`` reads the caches from the machine;
``summarise`` turns the table into the conclusion the notebook prints, and
``conclusion_holds`` checks that conclusion against the numbers. ``cache_story`` and
``cache_story_text`` hold the cache explanation against the same table: the widths where
sharing was faster with both models in the same cache level, and those where one block
fitted a cache that the N blocks overflowed and yet no difference was measured.
``course_lib.views.speed_figures.plot_cache_experiment`` draws the table.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path

import pandas as pd
import torch

from course_lib.config import ModelConfig
from course_lib.i18n import _
from course_lib.measure.cost import analytic_flops, inference_fn
from course_lib.measure.timing import (
    TWIN,
    clock,
    compare_times,
    noise_floor,
    paired_ratio,
    timing_verdict,
)
from course_lib.nn.counts import parameter_bytes

SYS_CACHE = Path("/sys/devices/system/cpu/cpu0/cache")
_SYSCONF = {"L1d": "SC_LEVEL1_DCACHE_SIZE", "L2": "SC_LEVEL2_CACHE_SIZE",
            "L3": "SC_LEVEL3_CACHE_SIZE"}  # fmt: skip
_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30}


def _parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in _UNITS:
        return int(text[:-1]) * _UNITS[text[-1]]
    return int(text)


def cache_sizes(folder: Path = SYS_CACHE) -> dict[str, int]:
    """Data cache sizes of the first CPU in bytes, e.g. ``{"L1d": 32768, "L2": ..., "L3": ...}``.

    Read from Linux's ``/sys/devices/system/cpu/cpu0/cache/index*/``, else from
    ``os.sysconf``; an empty dict where neither says (macOS, Windows): the experiment still
    runs, only the cache lines of its figure are missing.
    """
    sizes: dict[str, int] = {}
    for index in sorted(Path(folder).glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = _parse_size((index / "size").read_text())
        except (OSError, ValueError):
            continue
        if kind != "Instruction" and size > 0:
            sizes["L1d" if level == "1" else f"L{level}"] = size
    if not sizes:
        for name, key in _SYSCONF.items():
            try:
                value = os.sysconf(key)
            except (ValueError, OSError):
                continue
            if value > 0:
                sizes[name] = value
    return sizes


def where_it_fits(nbytes: float, caches: dict[str, int]) -> str:
    """The smallest cache level that holds ``nbytes``, or ``"memory"`` when none does."""
    for name, size in sorted(caches.items(), key=lambda kv: kv[1]):
        if nbytes <= size:
            return name
    return "memory"


def decode_config(d_model: int, n_layers: int = 8, sharing: str = "none") -> ModelConfig:
    """A course classifier of width d (d_ff = 4d, 4 heads) with a small vocabulary."""
    return ModelConfig(vocab_size=256, d_model=d_model, n_heads=4, d_ff=4 * d_model,
                       n_layers=n_layers, max_len=8, sharing=sharing)  # fmt: skip


def _models(d_model: int, n_layers: int, seed: int) -> dict[str, torch.nn.Module]:
    from course_lib.nn.model import build_model

    models = {}
    for name in ("none", "all"):
        torch.manual_seed(seed)
        models[name] = build_model(decode_config(d_model, n_layers, name)).eval()
    models[TWIN] = copy.deepcopy(models["none"])  # same weights, its own storage
    return models


def cache_experiment(
    widths=(128, 256, 512, 768),
    n_layers: int = 8,
    batches=(1, 32),
    repeats: int = 7,
    warmup: int = 1,
    seed: int = 0,
    min_call_s: float = 0.01,
    clock_kind: str = "thread",
) -> pd.DataFrame:
    """One row per (width, batch): weight bytes, FLOPs, times, ratio, noise floor, verdict.

    Each step is one new token per sequence (input (batch, 1)), as in decoding. ``ratio``
    is ``t_none / t_all`` (> 1: sharing faster), ``floor`` the noise floor of ``none``
    against its twin in the same interleaved rounds, on the CPU. A timed call repeats the
    step ``steps_per_call`` times, enough to last ``min_call_s``: a call of a millisecond
    is spoiled whole by one time slice another process takes; a longer one only in part.
    """
    if not widths or not batches or min(batches) < 1:
        raise ValueError(
            _("widths={widths!r}, batches={batches!r}: need some of each, >= 1").format(
                widths=widths, batches=batches
            )
        )
    now, rows = clock(clock_kind), []
    for d in widths:
        models = _models(d, n_layers, seed)
        flops = {analytic_flops(m.cfg, 1, 1).per_token for m in models.values()}
        assert len(flops) == 1  # same depth, same FLOPs: the only difference is the bytes
        mflops = flops.pop() / 1e6
        for b in batches:
            ids = torch.randint(1, 256, (b, 1), generator=torch.Generator().manual_seed(b))
            steps = {name: inference_fn(m, ids) for name, m in models.items()}
            t0 = now()
            steps["none"]()
            k = max(1, math.ceil(min_call_s / max(now() - t0, 1e-6)))
            fns = {name: (lambda f=f, k=k: [f() for _ in range(k)]) for name, f in steps.items()}
            t = compare_times(fns, "cpu", warmup, repeats, clock_kind)
            ratio = paired_ratio(t["none"], t["all"])
            floor = noise_floor(t["none"], t[TWIN])
            rows.append({
                "d_model": d, "batch": b,
                "none_MiB": parameter_bytes(models["none"]) / 2**20,
                "all_MiB": parameter_bytes(models["all"]) / 2**20,
                "MFLOPs_per_token": mflops,
                "steps_per_call": k,
                "none_ms": 1e3 * t["none"].median_s / k, "all_ms": 1e3 * t["all"].median_s / k,
                "ratio": ratio, "floor": floor, "verdict": timing_verdict(ratio, floor),
                "tokens_per_s_none": b * k / t["none"].median_s,
                "tokens_per_s_all": b * k / t["all"].median_s,
            })  # fmt: skip
        del models
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame, caches: dict[str, int]) -> dict:
    """What the table says, per batch: the widths where sharing was faster, slower or
    within noise, the largest ratio among the faster ones (``best_*``, None when sharing
    was faster nowhere), and where the weights of each model fit."""
    out = {"caches_MiB": {k: v / 2**20 for k, v in caches.items()}, "by_batch": {}}
    for b, part in table.groupby("batch"):
        faster = part[part["verdict"] == "faster"]
        best = faster.loc[faster["ratio"].idxmax()] if len(faster) else None
        out["by_batch"][int(b)] = {
            v: [int(d) for d in part.loc[part["verdict"] == v, "d_model"]]
            for v in ("faster", "slower", "within noise")
        } | {"best_d": None if best is None else int(best["d_model"]),
             "best_ratio": None if best is None else float(best["ratio"]),
             "best_floor": None if best is None else float(best["floor"])}  # fmt: skip
    out["fits"] = {
        int(r.d_model): (where_it_fits(r.none_MiB * 2**20, caches),
                         where_it_fits(r.all_MiB * 2**20, caches))
        for r in table.itertuples()
    }  # fmt: skip
    return out


def conclusion_text(summary: dict) -> str:
    """The Markdown conclusion, built only from ``summarise``'s numbers."""
    lines = []
    for b, s in summary["by_batch"].items():
        fits = summary["fits"]
        where = "; ".join(
            _("d = {d} (unshared weights in {unshared}, shared in {shared})").format(
                d=d, unshared=_place(fits[d][0]), shared=_place(fits[d][1])
            )
            for d in s["faster"]
        )
        if s["faster"]:
            lines.append(_("- **batch {b}**: sharing was faster, beyond this run's noise floor, "
                           "at {where}. Largest ratio {ratio:.2f}× at d = {d} (noise floor "
                           "±{floor:.1%}).").format(b=b, where=where, ratio=s["best_ratio"],
                                                    d=s["best_d"], floor=s["best_floor"]))  # fmt: skip
        else:
            lines.append(
                _("- **batch {b}**: sharing was faster nowhere beyond the noise floor.").format(b=b)
            )
        if s["within noise"]:
            lines.append(_("  No measurable difference at d = {widths}.").format(
                widths=", ".join(map(str, s["within noise"]))))  # fmt: skip
        if s["slower"]:
            lines.append(
                _("  Slower at d = {widths}.").format(widths=", ".join(map(str, s["slower"])))
            )
    return "\n".join(lines)


def conclusion_holds(summary: dict, table: pd.DataFrame) -> bool:
    """Recheck every claim of the conclusion against the table and its noise floors."""
    for b, s in summary["by_batch"].items():
        part = table[table["batch"] == b].set_index("d_model")
        for d in s["faster"]:
            assert part.loc[d, "ratio"] > 1 + part.loc[d, "floor"], (b, d)
        for d in s["slower"]:
            assert part.loc[d, "ratio"] < 1 - part.loc[d, "floor"], (b, d)
        for d in s["within noise"]:
            assert abs(part.loc[d, "ratio"] - 1) <= part.loc[d, "floor"], (b, d)
        assert sorted(s["faster"] + s["slower"] + s["within noise"]) == sorted(part.index)
        faster = part.loc[s["faster"], "ratio"]
        assert s["best_ratio"] == (faster.max() if len(faster) else None)
    return True


def cache_story(summary: dict) -> dict:
    """Per batch, where the table contradicts "faster only where one block fits a cache
    that N blocks overflow": ``same_level_faster`` [(d, level)], faster although both
    models' weights fit the same level; ``split_no_gain`` [(d, unshared, shared)], one
    block in a smaller cache than the N blocks, yet no measurable difference."""
    out = {}
    for b, s in summary["by_batch"].items():
        fits = summary["fits"]
        out[b] = {
            "same_level_faster": [(d, fits[d][0]) for d in s["faster"] if fits[d][0] == fits[d][1]],
            "split_no_gain": [(d, *fits[d]) for d in s["within noise"] + s["slower"]
                              if fits[d][0] != fits[d][1]],
        }  # fmt: skip
    return out


def _place(name: str) -> str:
    """A place the weights fit, as shown: a cache's name (L2, L3) or ``memory``."""
    return _("memory") if name == "memory" else name


def _level(name: str) -> str:
    return _("no cache") if name == "memory" else name


def cache_story_text(summary: dict) -> str:
    """Markdown sentences, built only from ``cache_story``: what the cache sizes explain."""
    if not summary["caches_MiB"]:
        return _("- This machine did not report its cache sizes: where the weights fit is unknown.")
    lines = []
    for b, s in cache_story(summary).items():
        same = ", ".join(
            _("d = {d} (both in {level})").format(d=d, level=_level(lvl))
            for d, lvl in s["same_level_faster"]
        )
        split = ", ".join(
            _("d = {d} (N blocks in {unshared}, one in {shared})").format(
                d=d, unshared=_level(u), shared=_place(o)
            )
            for d, u, o in s["split_no_gain"]
        )
        if same and split:  # each variant one whole sentence
            text = _("- **batch {b}**: faster with both models in the same cache level at "
                     "{same}; no measurable difference although one block fitted a cache the N "
                     "blocks overflowed at {split}.")  # fmt: skip
        elif same:
            text = _("- **batch {b}**: faster with both models in the same cache level at {same}.")
        elif split:
            text = _("- **batch {b}**: no measurable difference although one block fitted a "
                     "cache the N blocks overflowed at {split}.")  # fmt: skip
        else:
            text = _("- **batch {b}**: every verdict matches where the weights fit.")
        lines.append(text.format(b=b, same=same, split=split))
    return "\n".join(lines)
