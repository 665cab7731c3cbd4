"""Notebook 11: plausible wrong answers (``WRONG``) and the hint each must get; tests/exercises/test_checks.py
runs them, with the reference solutions and the "not attempted" line of every check."""

from course_lib.exercises import nb11
from course_lib.exercises.framework import load_solution
from course_lib.nn.counts import formula_parameter_count

S11 = load_solution("11_choosing_a_strategy")


# ------------------------------------------------------------------ wrong answers


def within_per_use(cfg, budget):
    return nb11._plans_within(cfg, budget, nb11._per_use)


def within_blocks_only(cfg, budget):
    return {k: formula_parameter_count(cfg.replace(**c)) for k, c in nb11.all_plans(cfg.n_layers).items()
            if nb11._blocks_only(cfg.replace(**c)) <= budget}  # fmt: skip


def within_strict(cfg, budget):
    return {k: v for k, v in S11.plans_within(cfg, budget).items() if v < budget}


def within_m_below_n(cfg, budget):
    return {k: v for k, v in S11.plans_within(cfg, budget).items() if not k.endswith(f"M={cfg.n_layers}")}  # fmt: skip


def verdicts_blog(cfg=None):
    return {**S11.claim_verdicts(), "cuts FLOPs at the same depth": True}


def verdicts_inference(cfg=None):
    return {
        **S11.claim_verdicts(),
        "speeds up inference at the same depth, whatever the batch and width": True,
    }


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
    return nb11.choose_plan_reference(runs, max_params, max_ms, per_layer, "per_use_params")


def choose_strict(runs, max_params, max_ms, per_layer):
    return nb11.choose_plan_reference(runs, max_params, max_ms, per_layer, strict=True)


def choose_highest_loss(runs, max_params, max_ms, per_layer):
    fits = runs[(runs["unique_params"] <= max_params) & (runs["n_layers"] * per_layer <= max_ms)]
    return None if fits.empty else fits.sort_values("val_loss").iloc[-1]["name"]


def choose_never_none(runs, max_params, max_ms, per_layer):
    return S11.choose_plan(runs, max_params, max_ms, per_layer) or runs.iloc[0]["name"]


# ---- notebook 11, more mistakes (issue 17)


def within_names_only(cfg, budget):
    return list(S11.plans_within(cfg, budget))


def within_own_names(cfg, budget):
    return {k.replace(" M=", "_"): v for k, v in S11.plans_within(cfg, budget).items()}


def verdicts_accuracy_cost():
    return {**S11.claim_verdicts(), "always costs accuracy": True}


def verdicts_hadamard():
    v = S11.claim_verdicts()
    return {**v, next(c for c in v if c.startswith("the Hadamard")): True}


def verdicts_as_list():
    return list(S11.claim_verdicts().values())


def within_per_use_counts(cfg, budget):
    plans = nb11.all_plans(cfg.n_layers)
    return {k: nb11._per_use(cfg.replace(**plans[k])) for k in S11.plans_within(cfg, budget)}


def within_block_counts(cfg, budget):
    plans = nb11.all_plans(cfg.n_layers)
    return {k: nb11._blocks_only(cfg.replace(**plans[k])) for k in S11.plans_within(cfg, budget)}


def verdicts_misspelled():
    v = S11.claim_verdicts()
    v["applies to vision transformer"] = v.pop("applies to vision transformers")
    return v


WRONG = [
    (nb11.check_11_plans_within, within_per_use, "count each shared block once"),
    (nb11.check_11_plans_within, within_blocks_only, "embeddings and head included"),
    (nb11.check_11_plans_within, within_strict, "use <="),
    (nb11.check_11_plans_within, within_m_below_n, "M = 1 ... N = 4"),
    (nb11.check_11_claim_verdicts, verdicts_blog, "counted FLOPs were identical"),
    (nb11.check_11_claim_verdicts, verdicts_inference, "faster only at some widths"),
    (nb11.check_11_claim_verdicts, verdicts_missing, "missing: ['always costs accuracy']"),
    (nb11.check_11_claim_verdicts, verdicts_strings, "answer True or False"),
    (nb11.check_11_plans_within, within_names_only, "return a dict"),
    (nb11.check_11_plans_within, within_own_names, r"names as plan_name\(sharing, M\)"),
    (nb11.check_11_claim_verdicts, verdicts_accuracy_cost, "no measurable difference"),
    (nb11.check_11_claim_verdicts, verdicts_hadamard, "a third set of numbers"),
    (nb11.check_11_claim_verdicts, verdicts_as_list, "return a dict"),
    (nb11.check_11_plans_within, within_per_use_counts, "the counts are per use"),
    (nb11.check_11_plans_within, within_block_counts, "leave out the embeddings"),
    (nb11.check_11_claim_verdicts, verdicts_misspelled, "copy the names from CLAIMS"),
    (nb11.check_11_choose_plan, choose_ignoring_latency, "latency follows the depth N"),
    (nb11.check_11_choose_plan, choose_latency_from_unique, "latency follows the depth N"),
    (nb11.check_11_choose_plan, choose_per_use, "the budget limits what is stored"),
    (nb11.check_11_choose_plan, choose_strict, "use <=, not <"),
    (nb11.check_11_choose_plan, choose_highest_loss, "lower is better"),
    (nb11.check_11_choose_plan, choose_never_none, "return None"),
]
