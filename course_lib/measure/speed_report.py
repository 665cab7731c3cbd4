"""Notebook 08's tables: your own measurements beside the shipped GPU runs.

``course_lib.measure.cost`` measures; this module only arranges what was measured:

- ``load_benchmark(name)`` reads a shipped ``benchmarks/results/NAME.json`` and
  ``provenance(payload)`` says where it ran (device, torch, date), read from the file;
- ``timing_results(times)`` turns ``timing.compare_times`` outputs into the same
  ``{plan: {"train_step_ms", "train_step_ratio", ...}}`` form the benchmark writes, and
  ``speed_ratios(results)`` gives one table of ratios to ``none`` for either;
- ``sweep_memory_speed(df)`` reads the FULL sweep (``data/results/full_sweep.csv``): peak
  memory, and its drop against ``none`` predicted from 16 bytes per unique parameter
  (fp32 weight, gradient and AdamW's two moments), and tokens/s relative to ``none``;
- the notebook's figures are drawn from these tables by ``course_lib.views.speed_figures``
  (``plot_what_changes``, ``plot_speed_ratios``): this module draws nothing;
- ``plan_configs``, ``build_plans``, ``cost_table``, ``rebuild_08`` and ``time_plans`` rebuild what notebook
  08's sections 1-5 make (the six plans, their cost table, your timings), and
  ``plan_costs`` and ``sweep_runs`` what notebook 11's sections 1-2 read, for the "catch
  up" cells of a section started in a fresh kernel (docs/teaching.md).

A ratio is ``time_none / time_plan`` (> 1: the plan is faster than ``none``), the median
over interleaved rounds (``timing.paired_ratio``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from course_lib.config import ModelConfig
from course_lib.data.synthetic import synthetic_batch
from course_lib.i18n import _
from course_lib.measure.cost import (
    activation_memory,
    analytic_flops,
    counted_flops,
    inference_fn,
    train_parts,
    training_state_memory,
)
from course_lib.measure.timing import (
    PHASES,
    TWIN,
    Timing,
    compare_phases,
    compare_times,
    noise_floor,
    paired_ratio,
    timing_verdict,
)
from course_lib.nn.counts import count_parameters, count_parameters_per_use
from course_lib.nn.model import build_model
from course_lib.runtime import MODES, REPO_ROOT, seed_everything

ROOT = REPO_ROOT
BENCHMARK_DIR = ROOT / "benchmarks" / "results"
SWEEP_CSV = ROOT / "data" / "results" / "full_sweep.csv"
STATE_BYTES_PER_PARAM = 16  # fp32 weight 4 + gradient 4 + AdamW exp_avg 4 + exp_avg_sq 4
SPEED_COLUMNS = ("train_step", "latency_b1", "latency_large")


def load_benchmark(name: str, folder: str | Path = BENCHMARK_DIR) -> dict:
    """The JSON a benchmark script wrote, e.g. ``load_benchmark("sharing_speed_gpu")``."""
    path = Path(folder) / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in Path(folder).glob("*.json"))
        raise ValueError(
            _("benchmark={name!r} is not allowed: choose one of {known}").format(
                name=name, known=known
            )
        )
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(
            _("benchmark file {path} is not valid JSON ({err})").format(path=path, err=err)
        ) from None
    missing = [k for k in ("benchmark", "machine", "results") if k not in payload]
    if missing:
        raise ValueError(
            _("benchmark file {path} lacks key(s) {missing}").format(path=path, missing=missing)
        )
    return payload


def provenance(payload: dict) -> str:
    """'NVIDIA H200, torch 2.11.0+cu130, 2026-11-26' from a benchmark's ``machine`` entry."""
    m = payload["machine"]
    device = m.get("gpu") or f"{m.get('cpu', 'CPU')} ({m.get('torch_threads', '?')} threads)"
    return f"{device}, torch {m.get('torch', '?')}, {m.get('date', '?')}"


def timing_results(
    times: dict[str, dict[str, Timing]], baseline: str = "none", twin: str = TWIN
) -> dict:
    """``{what: compare_times(...)}`` -> ``{plan: {what + "_ms", what + "_ratio", ...}}``.

    ``what`` names a measurement (``train_step``, ``forward``, ``latency_b1``, ...); the
    ratio is ``paired_ratio(baseline, plan)``, so every ``times[what]`` must hold
    ``baseline`` and come from one interleaved call. Where ``times[what]`` also holds the
    baseline's ``twin``, each row gets that run's noise floor and the plan's verdict.
    """
    out: dict[str, dict[str, float | str]] = {}
    for what, by_plan in times.items():
        if baseline not in by_plan:
            raise ValueError(
                _("times[{what!r}] has no {baseline!r} entry: {by_plan}").format(
                    what=what, baseline=baseline, by_plan=sorted(by_plan)
                )
            )
        floor = noise_floor(by_plan[baseline], by_plan[twin]) if twin in by_plan else None
        for plan, t in by_plan.items():
            row = out.setdefault(plan, {})
            row[f"{what}_ms"] = 1e3 * t.median_s
            row[f"{what}_ratio"] = ratio = paired_ratio(by_plan[baseline], t)
            if floor is not None:
                row[f"{what}_floor"] = floor
                row[f"{what}_verdict"] = timing_verdict(ratio, floor)
    return out


def _large_batch(row: dict) -> int:
    sizes = [int(k[len("latency_b") : -len("_ratio")]) for k in row if k.startswith("latency_b")
             and k.endswith("_ratio")]  # fmt: skip
    big = [b for b in sizes if b > 1]
    if len(big) != 1:
        raise ValueError(
            _("expected one large-batch latency (latency_bN_ratio, N > 1), got {sizes}").format(
                sizes=sizes
            )
        )
    return big[0]


def speed_ratios(results: dict) -> pd.DataFrame:
    """Plans x ratios to ``none`` (train_step, latency_b1, latency_large, + large_batch).

    Where ``results`` also hold them (benchmarks since the noise-floor method), the phases
    of a training step (``forward``, ``backward``, ``optimizer``) are columns too, and each
    measurement's noise floor a ``<column>_floor`` column.
    """
    rows = {}
    for plan, r in results.items():
        big = _large_batch(r)
        keys = {"train_step": "train_step", "latency_b1": "latency_b1",
                "latency_large": f"latency_b{big}"}  # fmt: skip
        keys |= {p: p for p in PHASES if f"{p}_ratio" in r}
        row = {col: r[f"{key}_ratio"] for col, key in keys.items()}
        row |= {f"{col}_floor": r[f"{key}_floor"] for col, key in keys.items()
                if f"{key}_floor" in r}  # fmt: skip
        rows[plan] = row | {"large_batch": big}
    return pd.DataFrame.from_dict(rows, orient="index")


def sweep_memory_speed(df: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and depth N, each plan's peak memory and speed relative to ``none``.

    ``predicted_drop_mib`` = (unique params of none - of the plan) x 16 bytes / 2**20;
    ``measured_drop_mib`` = peak memory of none - of the plan (``peak_mem_mb`` is MiB).
    """
    need = {"dataset", "n_layers", "sharing", "name", "unique_params", "tokens_per_s",
            "peak_mem_mb"}  # fmt: skip
    missing = sorted(need - set(df.columns))
    if missing:
        raise ValueError(_("the sweep table lacks column(s) {missing}").format(missing=missing))
    parts = []
    for (dataset, n), group in df.groupby(["dataset", "n_layers"], sort=False):
        base = group[group["sharing"] == "none"]
        if len(base) != 1:
            raise ValueError(
                _("{dataset} N={n}: expected one 'none' run, found {n2}").format(
                    dataset=dataset, n=n, n2=len(base)
                )
            )
        base = base.iloc[0]
        part = group[["dataset", "n_layers", "name", "unique_params", "peak_mem_mb"]].copy()
        part["tokens_per_s_ratio"] = group["tokens_per_s"] / base["tokens_per_s"]
        saved = base["unique_params"] - group["unique_params"]
        part["predicted_drop_mib"] = saved * STATE_BYTES_PER_PARAM / 2**20
        part["measured_drop_mib"] = base["peak_mem_mb"] - group["peak_mem_mb"]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------- catch-up cells (issue 17)

PLANS_08 = {"none": dict(sharing="none"), "all": dict(sharing="all"),
            "attention": dict(sharing="attention"), "ffn": dict(sharing="ffn"),
            "cycle(M=4)": dict(sharing="cycle", n_blocks=4),
            "sequence(M=4)": dict(sharing="sequence", n_blocks=4)}  # fmt: skip


def plan_configs(mode: str) -> tuple[ModelConfig, dict[str, ModelConfig], int, int]:
    """Notebook 08, section 1: (base config, {plan: config}, batch, large batch) for a mode."""
    if mode not in MODES:
        raise ValueError(_("mode={mode!r} is not allowed: choose FAST or FULL").format(mode=mode))
    if mode == "FULL":
        size, batch, large = dict(d_model=256, d_ff=1024, max_len=64), 8, 256
    else:
        size, batch, large = dict(d_model=128, d_ff=512, max_len=32), 8, 32
    base = ModelConfig(vocab_size=1000, n_heads=4, n_layers=8, attn_impl="sdpa", **size)
    return base, {n: base.replace(**plan) for n, plan in PLANS_08.items()}, batch, large


def build_plans(configs: dict[str, ModelConfig], device="cpu") -> dict[str, torch.nn.Module]:
    """Each plan's model, built from seed 0 as notebook 08 builds them."""
    models = {}
    for name, cfg in configs.items():
        seed_everything(0)
        models[name] = build_model(cfg).to(device)
    return models


def cost_table(models: dict, configs: dict, ids: torch.Tensor, y: torch.Tensor) -> pd.DataFrame:
    """Notebook 08's table of sections 1-4: unique params, params per use, weights + grads
    + AdamW MiB (after one real step), activations MiB and counted FLOPs per token."""
    rows = {}
    for name, m in models.items():
        flops = counted_flops(m, ids) / ids.numel()
        assert flops == analytic_flops(configs[name], *ids.shape).per_token
        rows[name] = {"unique params": count_parameters(m),
                      "params per use": count_parameters_per_use(m),
                      "weights+grads+AdamW MiB": training_state_memory(m, ids, y).total / 2**20,
                      "activations MiB": activation_memory(m, ids, y)["saved_bytes"] / 2**20,
                      "FLOPs/token": flops}  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index")


def time_plans(models: dict, base: ModelConfig, batch: int, large_batch: int, device="cpu",
               repeats: int = 7) -> dict:  # fmt: skip
    """Notebook 08, section 5, in one call: ``none``, its twin, ``all``, ``cycle(M=4)`` and
    ``sequence(M=4)`` timed in interleaved rounds (the phases of a training step at
    ``batch``, latency at batch 1 and ``large_batch``), as ``timing_results`` gives them."""
    import copy

    device = torch.device(device)
    kind = "thread" if device.type == "cpu" else "wall"
    timed = {"none": models["none"], TWIN: copy.deepcopy(models["none"])}
    timed |= {n: models[n] for n in ("all", "cycle(M=4)", "sequence(M=4)")}
    seq = base.max_len
    ids, y = synthetic_batch(base, batch, seq, seed=0, device=device)
    steps = {n: train_parts(m, ids, y) for n, m in timed.items()}
    times = compare_phases(steps, device, warmup=1, repeats=repeats, clock_kind=kind)
    for b, seed in ((1, 1), (large_batch, 2)):
        x, _targets = synthetic_batch(base, b, seq, seed=seed, device=device)
        fns = {n: inference_fn(m, x) for n, m in timed.items()}
        times[f"latency_b{b}"] = compare_times(fns, device, 1, repeats, kind)
    return timing_results(times)


def rebuild_08(mode: str, device="cpu") -> tuple:
    """What notebook 08's sections 1-4 leave behind, for a section started in a fresh
    kernel: (base, configs, batch, large batch, models, ids, y, cost table)."""
    base, configs, batch, large = plan_configs(mode)
    models = build_plans(configs, device)
    ids, y = synthetic_batch(base, batch, base.max_len, seed=0, device=device)
    return base, configs, batch, large, models, ids, y, cost_table(models, configs, ids, y)


def plan_costs(base: ModelConfig, plans: dict[str, str], seq: int) -> pd.DataFrame:
    """Notebook 11, section 1: per plan (M = N/2 for the block plans) unique parameters,
    training state MB (16 bytes each), parameters per use, FLOPs/token, activations MB."""
    ids, y = synthetic_batch(base, 2, seq, seed=0)
    rows = {}
    for name, sharing in plans.items():
        cfg = base.replace(sharing=sharing, n_blocks=base.n_layers // 2 if " M=" in name else None)
        seed_everything(0)
        model = build_model(cfg)
        with torch.no_grad():
            flops = counted_flops(model, ids) / ids.numel()
        assert flops == analytic_flops(cfg, *ids.shape).per_token  # the formula is exact
        rows[name] = {"unique params": count_parameters(model),
                      "training state MB": STATE_BYTES_PER_PARAM * count_parameters(model) / 1e6,
                      "params per use": count_parameters_per_use(model), "FLOPs/token": flops,
                      "activations MB": activation_memory(model, ids, y)["saved_bytes"] / 1e6}  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index")


def sweep_runs(dataset: str, path: str | Path = SWEEP_CSV) -> pd.DataFrame:
    """The FULL sweep's runs of one dataset, indexed by plan name (notebook 11)."""
    sweep = pd.read_csv(path)
    known = sorted(sweep["dataset"].unique())
    if dataset not in known:
        raise ValueError(
            _("dataset={dataset!r} is not allowed: choose one of {known}").format(
                dataset=dataset, known=known
            )
        )
    return sweep[sweep["dataset"] == dataset].set_index("name")
