"""Notebook 11: every reference solution passes its self-check, and every check rejects a
plausible wrong answer with the hint that names the mistake."""

import pytest

from course_lib import checks_guide as cg
from course_lib.checks import load_solution
from course_lib.measure import formula_parameter_count

S11 = load_solution("11_choosing_a_strategy")

SOLVED = [
    (cg.check_11_plans_within, S11.plans_within),
    (cg.check_11_claim_verdicts, S11.claim_verdicts),
    (cg.check_11_choose_plan, S11.choose_plan),
]


@pytest.mark.parametrize("check_fn, solution", SOLVED, ids=[c.__name__ for c, _ in SOLVED])
def test_reference_solution_passes(check_fn, solution, capsys):
    check_fn(solution)
    assert capsys.readouterr().out.startswith(f"✓ {check_fn.__name__}: all ")


# ------------------------------------------------------------------ wrong answers


def within_per_use(cfg, budget):
    return cg._plans_within(cfg, budget, cg._per_use)


def within_blocks_only(cfg, budget):
    return {k: formula_parameter_count(cfg.replace(**c)) for k, c in cg.all_plans(cfg.n_layers).items()
            if cg._blocks_only(cfg.replace(**c)) <= budget}  # fmt: skip


def within_strict(cfg, budget):
    return {k: v for k, v in S11.plans_within(cfg, budget).items() if v < budget}


def within_m_below_n(cfg, budget):
    return {k: v for k, v in S11.plans_within(cfg, budget).items() if not k.endswith(f"M={cfg.n_layers}")}  # fmt: skip


def verdicts_blog(cfg=None):
    return {**S11.claim_verdicts(), "cuts FLOPs at the same depth": True}


def verdicts_inference(cfg=None):
    return {**S11.claim_verdicts(), "speeds up inference at the same depth": True}


def verdicts_missing():
    v = S11.claim_verdicts()
    del v["always costs accuracy"]
    return v


def verdicts_strings():
    return {k: str(v) for k, v in S11.claim_verdicts().items()}


def choose_ignoring_latency(runs, max_params, max_ms, per_layer):
    return S11.choose_plan(runs, max_params, float("inf"), per_layer)


def choose_latency_from_unique(runs, max_params, max_ms, per_layer):
    shrink = runs["unique_params"] / runs["per_use_params"]  # "a shared model runs faster"
    fits = runs[(runs["unique_params"] <= max_params)
                & (runs["n_layers"] * shrink * per_layer <= max_ms)]  # fmt: skip
    return None if fits.empty else fits.sort_values("val_loss").iloc[0]["name"]


def choose_per_use(runs, max_params, max_ms, per_layer):
    return cg.choose_plan_reference(runs, max_params, max_ms, per_layer, "per_use_params")


def choose_strict(runs, max_params, max_ms, per_layer):
    return cg.choose_plan_reference(runs, max_params, max_ms, per_layer, strict=True)


def choose_highest_loss(runs, max_params, max_ms, per_layer):
    fits = runs[(runs["unique_params"] <= max_params) & (runs["n_layers"] * per_layer <= max_ms)]
    return None if fits.empty else fits.sort_values("val_loss").iloc[-1]["name"]


def choose_never_none(runs, max_params, max_ms, per_layer):
    return S11.choose_plan(runs, max_params, max_ms, per_layer) or runs.iloc[0]["name"]


WRONG = [
    (cg.check_11_plans_within, within_per_use, "count each shared block once"),
    (cg.check_11_plans_within, within_blocks_only, "embeddings and head included"),
    (cg.check_11_plans_within, within_strict, "use <="),
    (cg.check_11_plans_within, within_m_below_n, "M = 1 ... N = 4"),
    (cg.check_11_claim_verdicts, verdicts_blog, "counted FLOPs were identical"),
    (cg.check_11_claim_verdicts, verdicts_inference, "GPU latency ratios"),
    (cg.check_11_claim_verdicts, verdicts_missing, "missing: ['always costs accuracy']"),
    (cg.check_11_claim_verdicts, verdicts_strings, "answer True or False"),
    (cg.check_11_choose_plan, choose_ignoring_latency, "latency follows the depth N"),
    (cg.check_11_choose_plan, choose_latency_from_unique, "latency follows the depth N"),
    (cg.check_11_choose_plan, choose_per_use, "the budget limits what is stored"),
    (cg.check_11_choose_plan, choose_strict, "use <=, not <"),
    (cg.check_11_choose_plan, choose_highest_loss, "lower is better"),
    (cg.check_11_choose_plan, choose_never_none, "return None"),
]


@pytest.mark.parametrize(
    "check_fn, wrong, hint", WRONG, ids=[f"{c.__name__}-{w.__name__}" for c, w, _ in WRONG]
)
def test_check_rejects_a_wrong_answer_with_its_hint(check_fn, wrong, hint):
    with pytest.raises(AssertionError) as err:
        check_fn(wrong)
    assert hint in str(err.value), str(err.value)


def test_not_written_yet_says_so():
    def todo(*args):
        raise NotImplementedError

    for check_fn, _ in SOLVED:
        with pytest.raises(AssertionError, match="not written yet"):
            check_fn(todo)
