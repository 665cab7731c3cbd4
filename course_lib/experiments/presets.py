"""The runs of a sweep: the FAST and FULL presets, seeds, and their training FLOPs (06, 08).

A run is ``(model_cfg, train_cfg, dataset)``. ``preset_runs("fast")`` lists seconds-long
CPU runs, ``preset_runs("full")`` the one-GPU sweep shipped in ``data/results/``;
``with_seeds(runs, parse_seeds("0-9"))`` repeats every run once per seed, so that plans
can be compared with a confidence interval (``course_lib.measure.stats``) instead of one draw.
"""

from __future__ import annotations

from typing import Any

from course_lib.config import (
    BLOCK_STRATEGIES,
    MAX_SEED,
    SHARING_STRATEGIES,
    ModelConfig,
    TrainConfig,
)
from course_lib.data.dataset import DatasetLike
from course_lib.data.shipped import char_vocab_size
from course_lib.i18n import _
from course_lib.nn.counts import count_parameters_per_use
from course_lib.nn.model import build_model

PRESET_NAMES = ("fast", "full")
MAX_SEED_COUNT = 1000  # '0-4294967295' would otherwise build a set of four billion seeds
Run = tuple[ModelConfig, TrainConfig, DatasetLike]  # resolved once by run_sweep


def fast_preset() -> list[Run]:
    """Seconds per run on two CPU cores: all seven plans (N=4, M=2) on Rotten Tomatoes,
    three on Shakespeare; about 10 s each. The classifiers reach 65-72% test accuracy
    (a majority guess scores 57.8%).
    """
    rt = ModelConfig(
        vocab_size=4000, d_model=32, n_heads=4, d_ff=64, n_layers=4, max_len=32, task="classify"
    )
    rt_train = TrainConfig(steps=150, batch_size=64, lr=3e-3, warmup_steps=15)
    lm = ModelConfig(
        vocab_size=char_vocab_size(),
        d_model=32,
        n_heads=4,
        d_ff=64,
        n_layers=4,
        max_len=64,
        task="lm",
    )
    lm_train = TrainConfig(steps=100, batch_size=32, lr=3e-3, warmup_steps=10)
    runs = [(rt.replace(**_plan(s, 4, 2)), rt_train, "rotten_tomatoes") for s in SHARING_STRATEGIES]
    runs += [
        (lm.replace(**_plan(s, 4, 2)), lm_train, "shakespeare") for s in ("none", "all", "cycle")
    ]
    return runs


def full_preset() -> list[Run]:
    """One H100: every plan at N=6 (M=3) and N=12 (M=6) on both datasets, d_model 256,
    bf16 autocast, SDPA attention; 28 runs, about 9e15 training FLOPs in all.
    """
    common = dict(d_model=256, n_heads=4, d_ff=1024, attn_impl="sdpa")
    rt = ModelConfig(vocab_size=8000, max_len=48, task="classify", **common)
    rt_train = TrainConfig(steps=600, batch_size=128, lr=1e-3, warmup_steps=60)
    lm = ModelConfig(vocab_size=char_vocab_size(), max_len=256, task="lm", **common)
    lm_train = TrainConfig(steps=600, batch_size=64, lr=1e-3, warmup_steps=60)
    runs = []
    for base, train, dataset in ((rt, rt_train, "rotten_tomatoes"), (lm, lm_train, "shakespeare")):
        for n, m in ((6, 3), (12, 6)):
            runs += [(base.replace(**_plan(s, n, m)), train, dataset) for s in SHARING_STRATEGIES]
    return runs


def _plan(sharing: str, n_layers: int, n_blocks: int) -> dict[str, Any]:
    with_m = sharing in BLOCK_STRATEGIES
    return dict(sharing=sharing, n_layers=n_layers, n_blocks=n_blocks if with_m else None)


def preset_runs(name: str) -> list[Run]:
    """The runs of a named preset: "fast" or "full"."""
    if name not in PRESET_NAMES:
        raise ValueError(
            _("preset={name} is not allowed: choose 'fast' or 'full'").format(name=repr(name))
        )
    return fast_preset() if name == "fast" else full_preset()


def parse_seeds(text: str) -> list[int]:
    """``"0-9"``, ``"0,3,7"`` or ``"0-4,10"`` as a sorted list of distinct seeds."""
    seeds: set[int] = set()
    try:
        for part in str(text).split(","):
            lo, dash, hi = part.strip().partition("-")
            if dash and not hi.strip():  # "0-": a range with no end is no seed list
                raise ValueError
            first, last = int(lo), int(hi) if dash else int(lo)
            if first < 0 or last < first or last > MAX_SEED:
                raise ValueError
            if last - first >= MAX_SEED_COUNT or len(seeds) + last - first >= MAX_SEED_COUNT:
                raise OverflowError
            seeds.update(range(first, last + 1))
    except OverflowError:
        raise ValueError(
            _("seeds={text} is not allowed: at most {max} seeds (each is a whole sweep)").format(
                text=repr(text), max=MAX_SEED_COUNT
            )
        ) from None
    except ValueError:
        raise ValueError(
            _(
                "seeds={text} is not allowed: use integers in 0..{max} (2**32 - 1) as "
                "'0-9', '0,3,7' or '0-4,10'"
            ).format(text=repr(text), max=MAX_SEED)
        ) from None
    return sorted(seeds)


def with_seeds(runs: list[Run], seeds: list[int] | None) -> list[Run]:
    """Every run once per seed, seed-major (all runs of the first seed, then the next), so
    an interrupted sweep holds whole seeds. ``None`` keeps each run's own seed."""
    if seeds is None:
        return list(runs)
    return [(m, t.replace(seed=s), d) for s in seeds for m, t, d in runs]


def training_flops(runs: list[Run]) -> float:
    """6 x per-use parameters x tokens, summed over ``runs`` (the usual estimate)."""
    total = 0.0
    for model_cfg, train_cfg, _dataset in runs:
        per_use = count_parameters_per_use(build_model(model_cfg))
        total += 6 * per_use * train_cfg.steps * train_cfg.batch_size * model_cfg.max_len
    return total
