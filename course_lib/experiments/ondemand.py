"""The two experiments of notebook 13 ("Depth on demand"), defined once for the notebook and
for ``scripts/depth_on_demand_seeds.py``, which repeats them over seeds into ``data/results/``.

1. Mixture-of-Recursions (``course_lib.nn.mor``) on the Rotten Tomatoes reviews: expert-choice
   and token-choice routing against plain looping of the same block 1, 2 or 3 times, at
   equal unique parameters; accuracy against average recursions per token and FLOPs.
2. Test-time depth (``course_lib.nn.recurrent_depth``) on prefix parity: a prelude -> core ->
   coda model trained with a random loop count (mean 4) against the same model trained
   with exactly 4 loops, both run with 1 to 16 loops; and the iso-parameter (3 unshared
   blocks) and iso-FLOP (6 unshared blocks) comparators of Saunshi et al.

A seed fixes everything random in one run; it does not fix the floating-point kernels, so
a learner's live run is one more draw beside the shipped seeds, never a copy of one.
"""

from __future__ import annotations

import functools

import pandas as pd
import torch
from torch.utils.data import TensorDataset

from course_lib.config import MAX_SEED
from course_lib.data.shipped import classification_tensors
from course_lib.experiments.depth import rate_interval
from course_lib.i18n import _
from course_lib.measure.stats import (
    BETTER,
    NO_DIFFERENCE,
    Interval,
    diff_ci,
    format_interval,
    verdict,
)
from course_lib.nn.mor import (
    MoRClassifier,
    MoRConfig,
    mean_recursions,
    mor_parameter_count,
    recursion_flops,
)
from course_lib.nn.recurrent_depth import (
    RecurrentDepthConfig,
    RecurrentDepthModel,
    accuracy_by_loops,
    effective_depth,
    recurrent_parameter_count,
)
from course_lib.runtime import seed_everything
from course_lib.training.loops import CLIP, train_recurrent
from course_lib.training.step import DivergenceCheck, train_step

SEEDS_CSV = "depth_on_demand_cpu_seeds.csv"  # in data/results/, made by the script above
MOR_BASE = MoRConfig(vocab_size=4000, d_model=32, n_heads=4, d_ff=64, max_len=32)
MOR_RUNS = {
    "fixed x1": MOR_BASE.replace(routing="fixed", capacities=(1.0,)),
    "fixed x2": MOR_BASE.replace(routing="fixed", capacities=(1.0, 1.0)),
    "fixed x3": MOR_BASE.replace(routing="fixed", capacities=(1.0, 1.0, 1.0)),
    "MoR expert": MOR_BASE.replace(routing="expert", capacities=(1.0, 2 / 3, 1 / 3)),
    "MoR token": MOR_BASE.replace(routing="token", capacities=(1.0, 2 / 3, 1 / 3)),
}
MOR_TRAIN = dict(steps=150, batch_size=64, lr=3e-3)
LOOP_CFG = RecurrentDepthConfig(d_model=32, n_heads=4, d_ff=64, window=2)
MEAN_LOOPS, TRAIN_LENGTHS, TEST_LENGTH = 4, (8, 12), 16
TEST_LOOPS = (1, 2, 3, 4, 6, 8, 12, 16)
LOOP_RUNS = {  # name: (config, training spread, training loops)
    "random loops": (LOOP_CFG, "poisson", MEAN_LOOPS),
    "fixed 4 loops": (LOOP_CFG, "fixed", MEAN_LOOPS),
    "unshared 3 (iso-param)": (LOOP_CFG, "fixed", 1),
    "unshared 6 (iso-FLOP)": (LOOP_CFG.replace(n_core=MEAN_LOOPS), "fixed", 1),
}
LOOP_TRAIN = dict(steps=300, batch_size=64, lengths=TRAIN_LENGTHS, lr=3e-3)


@functools.lru_cache(maxsize=1)
def review_data() -> tuple[TensorDataset, TensorDataset, TensorDataset, object]:
    """Rotten Tomatoes (train, val, test, tokenizer), tokenized once per process."""
    return classification_tensors(MOR_BASE.vocab_size, MOR_BASE.max_len)


def train_mor(model: MoRClassifier, data: TensorDataset, steps: int = 150, batch_size: int = 64,
              lr: float = 3e-3, seed: int = 0) -> list[float]:  # fmt: skip
    """AdamW on random mini-batches; cross-entropy plus token choice's balancing loss (the
    model's ``aux_loss``, times ``cfg.balance_weight``), the gradient norm clipped to 1
    (``course_lib.training.step.train_step``); stops with ``TrainingDiverged`` at the first
    non-finite loss or gradient norm."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(
            _("seed={seed} is not allowed: it must be an integer in [0, {max}]").format(
                seed=repr(seed), max=MAX_SEED
            )
        )
    ids, labels = data.tensors
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses, w, check = [], model.cfg.balance_weight, DivergenceCheck(steps)
    model.train()
    for step in range(steps):
        idx = torch.randint(0, len(ids), (batch_size,), generator=g)
        x, y = ids[idx], labels[idx]
        loss, _grad_norm = train_step(
            model, opt, x, y, step=step, lr=lr, check=check, clip=CLIP, aux_weight=w
        )
        losses.append(loss.item())
    return losses


@torch.no_grad()
def evaluate_mor(model: MoRClassifier, data: TensorDataset) -> dict:
    """Accuracy, average recursions per token and mean recursion FLOPs per sentence."""
    model.eval()
    ids, labels = data.tensors
    out = model(ids)
    return {
        "accuracy": (out.logits.argmax(-1) == labels).float().mean().item(),
        "n_examples": len(labels),
        "mean_recursions": mean_recursions(out.depth),
        "flops": recursion_flops(model.cfg, out.depth),
        "unique_params": mor_parameter_count(model.cfg),
    }


def mor_run(name: str, seed: int = 0, steps: int | None = None) -> tuple[MoRClassifier, dict]:
    """Train ``MOR_RUNS[name]`` with ``seed`` (``steps``: more for FULL) and evaluate it on
    the test split."""
    if name not in MOR_RUNS:
        raise ValueError(
            _("name={name} is not allowed: choose one of {names}").format(
                name=repr(name), names=list(MOR_RUNS)
            )
        )
    train, _val, test, _tokenizer = review_data()
    seed_everything(seed)
    model = MoRClassifier(MOR_RUNS[name])
    train_mor(model, train, seed=seed, **{**MOR_TRAIN, "steps": steps or MOR_TRAIN["steps"]})
    return model, {"part": "mor", "seed": seed, "model": name, **evaluate_mor(model, test)}


def loop_run(
    name: str, seed: int = 0, steps: int | None = None
) -> tuple[RecurrentDepthModel, list[dict]]:
    """Train ``LOOP_RUNS[name]`` with ``seed``; one row per test loop count (the unshared
    comparators only at the loop count they were trained with)."""
    if name not in LOOP_RUNS:
        raise ValueError(
            _("name={name} is not allowed: choose one of {names}").format(
                name=repr(name), names=list(LOOP_RUNS)
            )
        )
    cfg, spread, loops = LOOP_RUNS[name]
    seed_everything(seed)
    model = RecurrentDepthModel(cfg)
    train = {**LOOP_TRAIN, "steps": steps or LOOP_TRAIN["steps"]}
    train_recurrent(model, mean_loops=loops, spread=spread, seed=seed, **train)
    tests = TEST_LOOPS if name in ("random loops", "fixed 4 loops") else (loops,)
    rows = []
    for row in accuracy_by_loops(model, list(tests), length=TEST_LENGTH):
        depth = effective_depth(cfg, row["loops"])
        rows.append({"part": "loops", "seed": seed, "model": name, **row, "depth": depth,
                     "unique_params": recurrent_parameter_count(cfg)})  # fmt: skip
    return model, rows


def seed_rows(seed: int) -> list[dict]:
    """Every run of both sections with ``seed``: the rows of the shipped CSV."""
    rows = [mor_run(name, seed)[1] for name in MOR_RUNS]
    for name in LOOP_RUNS:
        rows += loop_run(name, seed)[1]
    return rows


def rate_table(df: pd.DataFrame, metric: str, by: list[str]) -> pd.DataFrame:
    """Mean of ``metric`` (a rate) over seeds per group of ``by``, with its 95% interval
    inside [0, 1] (``depth.rate_interval``), and the number of seeds."""
    rows = []
    for key, group in df.groupby(by, sort=False):
        iv = rate_interval(group[metric].tolist())
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key, strict=True)), "mean": iv.mean, "low": iv.low,
                     "high": iv.high, "n_seeds": iv.n})  # fmt: skip
    return pd.DataFrame(rows)


def paired_difference(df: pd.DataFrame, metric: str, a: dict, b: dict) -> Interval:
    """95% interval of mean(a) - mean(b) of ``metric``, paired by seed; ``a`` and ``b``
    select rows by column values, e.g. ``{"model": "MoR expert"}``."""

    def pick(sel: dict) -> pd.Series:
        rows = df
        for column, value in sel.items():
            rows = rows[rows[column] == value]
        if rows.empty or rows["seed"].duplicated().any():
            raise ValueError(
                _("selection {sel} must pick one row per seed, got {n} rows").format(
                    sel=sel, n=len(rows)
                )
            )
        return rows.set_index("seed")[metric]

    x, y = pick(a), pick(b)
    seeds = sorted(set(x.index) & set(y.index))
    return diff_ci(x[seeds].tolist(), y[seeds].tolist(), seeds, seeds)


def difference_sentence(what: str, iv: Interval, digits: int = 1) -> str:
    """One generated sentence: the difference in points with its interval, and the verdict
    (``stats.verdict``: "better"/"worse" only when the interval excludes 0)."""
    pts = format_interval(iv.scaled(100), digits, signed=True)
    word = verdict(iv)
    if word == NO_DIFFERENCE:
        text = _("{what}: {pts} points (95% interval, {n} seeds), no measurable difference "
                 "at this size.")  # fmt: skip
    elif word == BETTER:
        text = _("{what}: {pts} points (95% interval, {n} seeds): the first is better.")
    else:
        text = _("{what}: {pts} points (95% interval, {n} seeds): the first is worse.")
    return text.format(what=what, pts=pts, n=iv.n)
