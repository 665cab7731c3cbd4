"""Self-checks of notebook 11 (choosing a strategy): plans within a budget, the blog's claims, capstone.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/11_choosing_a_strategy.py``.

- ``check_11_plans_within(fn)``: which sharing plans of a model fit a parameter budget
  (unique parameters, embeddings included: ``course_lib.nn.counts.formula_parameter_count``).
- ``check_11_claim_verdicts(fn)``: the blog's claims, true or false, as measured in
  notebooks 04-10.
- ``check_11_choose_plan(fn)``: the capstone, a plan for a parameter budget and a latency
  target, latency estimated from the depth N (FLOPs follow N, notebook 08).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from course_lib.config import BLOCK_STRATEGIES, SHARING_STRATEGIES, ModelConfig
from course_lib.exercises.compare import check, check_type
from course_lib.exercises.framework import exercise, passed, run
from course_lib.i18n import N_, _
from course_lib.nn.counts import formula_parameter_count
from course_lib.nn.layers import attention_parameter_count, ffn_parameter_count
from course_lib.nn.sharing import SharingPlan

# ---------------------------------------------------------------- exercise 1: a budget


def plan_name(sharing: str, n_blocks: int | None = None) -> str:
    """The name of a plan in the notebook's tables: ``none``, ``all``, ``cycle M=3`` ..."""
    return f"{sharing} M={n_blocks}" if sharing in BLOCK_STRATEGIES else sharing


def all_plans(n_layers: int) -> dict[str, dict[str, Any]]:
    """Every plan of ``ModelConfig.sharing`` at depth ``n_layers``: name -> config changes."""
    plans: dict[str, dict[str, Any]] = {
        s: {"sharing": s, "n_blocks": None} for s in SHARING_STRATEGIES if s not in BLOCK_STRATEGIES
    }
    for s in BLOCK_STRATEGIES:
        for m in range(1, n_layers + 1):
            plans[plan_name(s, m)] = {"sharing": s, "n_blocks": m}
    return plans


def _plans_within(cfg: ModelConfig, budget: int, count=formula_parameter_count) -> dict[str, int]:
    out = {}
    for name, changes in all_plans(cfg.n_layers).items():
        n = count(cfg.replace(**changes))
        if n <= budget:
            out[name] = n
    return out


def _blocks_only(cfg: ModelConfig) -> int:
    """Unique parameters of the blocks alone (the mistake of leaving embeddings out)."""
    plan = SharingPlan.from_config(cfg)
    d = cfg.d_model
    return plan.n_attn * attention_parameter_count(d) + plan.n_ffn * ffn_parameter_count(
        d, cfg.d_ff
    )


def _per_use(cfg: ModelConfig) -> int:
    return formula_parameter_count(cfg.replace(sharing="none", n_blocks=None))


@exercise
def check_11_plans_within(fn: Callable) -> None:
    """fn(cfg, budget) -> {plan name: unique parameters} of every plan that fits."""
    base = ModelConfig(vocab_size=500, d_model=32, n_heads=4, d_ff=64, n_layers=4, max_len=16)
    counts = {name: formula_parameter_count(base.replace(**c)) for name, c in all_plans(4).items()}
    budgets = [sorted(counts.values())[k] for k in (9, 5, 0)] + [counts["none"], 1]
    for budget in budgets:
        got = run(fn, base, budget)
        want = _plans_within(base, budget)
        check(
            isinstance(got, dict),
            _("return a dict {{plan name: unique parameters}}, not {type}").format(
                type=type(got).__name__
            ),
        )
        if set(got) == set(_plans_within(base, budget, _per_use)) != set(want):
            raise AssertionError(
                _(
                    "the budget limits what is stored: count each shared block once (unique "
                    "parameters, formula_parameter_count), not once per layer"
                )
            )
        if set(got) == set(_plans_within(base, budget, _blocks_only)) != set(want):
            raise AssertionError(
                _(
                    "count the whole model, embeddings and head included: the budget is the "
                    "memory of every stored parameter (formula_parameter_count(cfg))"
                )
            )
        if set(got) == {k for k, v in want.items() if v < budget} != set(want):
            raise AssertionError(
                _(
                    "a plan of exactly {budget:,} parameters fits a budget of {budget:,}: use <="
                ).format(budget=budget)
            )
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        check(
            not missing,
            _(
                "budget {budget:,}: these plans fit and are missing: {missing} (block plans take "
                "M = 1 ... N = {n_layers}; names as plan_name(sharing, M), e.g. 'cycle M=2')"
            ).format(budget=budget, missing=missing[:4], n_layers=base.n_layers),
        )
        check(
            not extra,
            _("budget {budget:,}: these plans do not fit: {extra}").format(
                budget=budget, extra=extra[:4]
            ),
        )
        wrong = {k: (got[k], v) for k, v in want.items() if got[k] != v}
        changes = all_plans(base.n_layers)
        if wrong and all(got[k] == _per_use(base.replace(**changes[k])) for k in wrong):
            raise AssertionError(
                _(
                    "the keys are right but the counts are per use: give each plan's UNIQUE "
                    "parameters, each shared block once (formula_parameter_count(cfg))"
                )
            )
        if wrong and all(got[k] == _blocks_only(base.replace(**changes[k])) for k in wrong):
            raise AssertionError(
                _(
                    "the counts leave out the embeddings and the head: count the whole model, "
                    "formula_parameter_count(cfg)"
                )
            )
        check(
            not wrong,
            _("wrong counts (yours, expected): {wrong}").format(
                wrong=dict(list(wrong.items())[:3])
            ),
        )
    passed("check_11_plans_within", len(budgets))


# ---------------------------------------------------------------- exercise 2: the claims

VERDICTS: dict[str, tuple[bool, str]] = {
    "cuts the stored parameters": (
        True,
        N_("unique parameters fall with the number of distinct blocks M (section 1; notebook 04)"),
    ),
    "cuts weight, gradient and optimizer memory": (
        True,
        N_(
            "16 bytes per stored parameter, so they fall exactly as the unique parameters do "
            "(section 1; notebook 08, section 2)"
        ),
    ),
    "cuts activation memory at the same depth": (
        False,
        N_(
            "the saved activations were identical for every plan at equal N (section 1; "
            "notebook 08, section 3): each of the N uses keeps its own inputs"
        ),
    ),
    "cuts FLOPs at the same depth": (
        False,
        N_(
            "the counted FLOPs were identical for every plan at equal N (section 1; notebook 08, "
            "section 4): a shared matrix is still multiplied at every layer"
        ),
    ),
    "speeds up inference at the same depth, whatever the batch and width": (
        False,
        N_(
            "the FLOPs are the same (notebook 08, section 4), and in most timed runs so was the "
            "time: no plan measurably faster at 2,048 tokens per call, GPU latencies within a few "
            "percent; a decoding step was faster only at some widths (section 2.3; notebook 08, "
            "section 6), so it depends on the run and the machine"
        ),
    ),
    "the Hadamard formula [W2;b2]=[W1;b1]⊙[W3;b3] is sharing": (
        False,
        N_(
            "W2 = W1 ⊙ W3 is a third set of numbers, in memory of its own (section 2.5; notebook 04, "
            "section 4)"
        ),
    ),
    "the blog's two-Linear PyTorch example shares weights": (
        False,
        N_(
            "Linear(100, 50) and Linear(50, 10) have different shapes and separate tensors "
            "(section 2.5; notebook 04, section 3)"
        ),
    ),
    "always costs accuracy": (
        False,
        N_(
            "in section 2.1 several plans show no measurable difference from the unshared model, "
            "while 'all' is worse: the cost depends on the plan and the task (notebook 06)"
        ),
    ),
    "applies to vision transformers": (
        True,
        N_("the digits ViT runs every plan on the same LayerStack (section 2.6; notebook 10)"),
    ),
}

CLAIMS: tuple[str, ...] = tuple(VERDICTS)  # what the learner is given: the claims, no answers


@exercise
def check_11_claim_verdicts(fn: Callable) -> None:
    """fn() -> {claim: True/False} for every claim in ``VERDICTS``."""
    got = run(fn)
    check_type(got, dict, _("return a dict {{claim: True or False}}, not {type}"))
    missing = [c for c in VERDICTS if c not in got]
    unknown = [c for c in got if c not in VERDICTS]
    check(
        not unknown,
        _(
            "unknown claims (copy the names from CLAIMS exactly): {unknown}; missing: {missing}"
        ).format(unknown=unknown, missing=missing)
        if missing
        else _("unknown claims (copy the names from CLAIMS exactly): {unknown}").format(
            unknown=unknown
        ),
    )
    check(
        not missing, _("give a verdict for every claim; missing: {missing}").format(missing=missing)
    )
    for claim, (truth, evidence) in VERDICTS.items():
        check(
            isinstance(got[claim], bool),
            _("{claim!r}: answer True or False, not {answer!r}").format(
                claim=claim, answer=got[claim]
            ),
        )
        check(
            got[claim] == truth,
            _("{claim!r} is {truth}: {evidence}").format(
                claim=claim, truth=truth, evidence=_(evidence)
            ),
        )
    passed("check_11_claim_verdicts", len(VERDICTS))


# ---------------------------------------------------------------- exercise 3: the capstone

CANDIDATE_COLUMNS = ("name", "n_layers", "unique_params", "per_use_params", "val_loss")


def choose_plan_reference(
    runs: pd.DataFrame,
    max_params: int,
    max_latency_ms: float,
    ms_per_layer: float,
    params: str = "unique_params",
    strict: bool = False,
) -> str | None:
    """The lowest ``val_loss`` among runs with unique_params <= max_params and
    n_layers x ms_per_layer <= max_latency_ms; ties go to fewer unique parameters.
    (``params`` and ``strict`` give the answers of two usual mistakes.)"""
    size = runs[params]
    fits = runs[
        ((size < max_params) if strict else (size <= max_params))
        & (runs["n_layers"] * ms_per_layer <= max_latency_ms + 1e-9)
    ]
    if fits.empty:
        return None
    return fits.sort_values(["val_loss", "unique_params"]).iloc[0]["name"]


def _capstone_table() -> pd.DataFrame:
    """Candidates built so that each usual mistake picks a different plan."""
    rows = [  # name, N, unique, per use, val_loss
        ("none N4", 4, 4_000, 4_000, 2.00),
        ("cycle N8 M4", 8, 4_000, 7_000, 1.90),
        ("all N4", 4, 1_300, 4_000, 2.20),
        ("attention N4", 4, 3_000, 4_000, 2.05),
        ("ffn N4", 4, 2_500, 4_000, 2.10),
        ("none N8", 8, 7_000, 7_000, 1.85),
        ("all N8", 8, 1_300, 7_000, 2.30),
    ]
    return pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))


@exercise
def check_11_choose_plan(fn: Callable) -> None:
    """fn(runs, max_params, max_latency_ms, ms_per_layer) -> the name of the best plan, or None."""
    runs = _capstone_table()
    cases = [  # (max_params, max_latency_ms, ms_per_layer)
        (4_000, 5.0, 1.0),  # latency allows 4 layers: the deep shared model is too slow
        (8_000, 10.0, 1.0),  # everything fits: the best loss overall
        (3_000, 4.0, 1.0),  # the budget sits exactly on attention N4
        (5_000, 10.0, 1.0),  # the deep shared model fits: it stores 4,000, computes 7,000
        (1_000, 100.0, 1.0),  # nothing is small enough
        (2_000, 4.0, 2.0),  # slower layers: nothing is fast enough
    ]
    for max_params, max_ms, per_layer in cases:
        got = run(fn, runs.copy(), max_params, max_ms, per_layer)
        want = choose_plan_reference(runs, max_params, max_ms, per_layer)
        where = f"(max_params={max_params:,}, max_latency_ms={max_ms}, ms_per_layer={per_layer})"
        if got != want and got == choose_plan_reference(runs, max_params, max_ms, per_layer, strict=True):  # fmt: skip
            raise AssertionError(
                _("{where}: a plan with exactly max_params parameters fits: use <=, not <").format(
                    where=where
                )
            )
        by_per_use = choose_plan_reference(runs, max_params, max_ms, per_layer, "per_use_params")
        if got != want and got == by_per_use:
            raise AssertionError(
                _(
                    "{where}: the budget limits what is stored, unique_params; per_use_params "
                    "counts a shared block once per layer and rules out plans that do fit"
                ).format(where=where)
            )
        if want is None:
            check(
                got is None,
                _("{where}: no plan fits both limits, return None (got {got!r})").format(
                    where=where, got=got
                ),
            )
            continue
        check(
            isinstance(got, str),
            _("{where}: return the plan's name (a str), got {got!r}").format(where=where, got=got),
        )
        row = runs.set_index("name").loc[got] if got in set(runs["name"]) else None
        check(
            row is not None,
            _("{where}: {got!r} is not a name in runs['name']").format(where=where, got=got),
        )
        if row["unique_params"] > max_params:
            raise AssertionError(
                _(
                    "{where}: {got!r} stores {stored:,} parameters, over the budget: "
                    "keep runs with unique_params <= max_params"
                ).format(where=where, got=got, stored=row["unique_params"])
            )
        if row["n_layers"] * per_layer > max_ms:
            raise AssertionError(
                _(
                    "{where}: {got!r} runs {n_layers} layers, about "
                    "{ms:g} ms: latency follows the depth N (FLOPs follow "
                    "N, notebook 08), so estimate it as n_layers x ms_per_layer, whatever the sharing"
                ).format(
                    where=where,
                    got=got,
                    n_layers=row["n_layers"],
                    ms=row["n_layers"] * per_layer,
                )
            )
        if got != want and row["val_loss"] > runs.set_index("name").loc[want, "val_loss"]:
            raise AssertionError(
                _(
                    "{where}: {got!r} has a higher validation loss than another plan that fits: "
                    "lower is better; among the plans within both limits take the smallest val_loss"
                ).format(where=where, got=got)
            )
        check(
            got == want,
            _("{where}: expected {want!r}, got {got!r}").format(where=where, want=want, got=got),
        )
    passed("check_11_choose_plan", len(cases))
