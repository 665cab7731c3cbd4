"""Notebook 10: plausible wrong answers (``WRONG``) and the hint each must get;
tests/test_checks.py runs them, with the reference solutions of every notebook."""

from course_lib import count_parameters_per_use
from course_lib.exercises import load_solution, nb10
from course_lib.sharing import SharingPlan
from course_lib.vision import build_vit

SOL = load_solution("10_beyond_text")


def _plain_reshape(images, p):
    return images.reshape(images.size(0), -1, p * p)


def _columns_first(images, p):
    return SOL.patchify(images.transpose(1, 2), p)


def _per_use(cfg, p):
    return count_parameters_per_use(build_vit(cfg, p))


def _no_class_token(cfg, p):
    return SOL.vit_parameter_count(cfg, p) - cfg.d_model


def _flops_by_distinct_blocks(cfg, p):
    sets = SharingPlan.from_config(cfg)
    return SOL.forward_flops(cfg.replace(n_layers=max(sets.n_attn, sets.n_ffn)), p)


def _macs(cfg, p):
    return SOL.forward_flops(cfg, p) // 2


def _ignores_budget(df, budget):
    return df.loc[df["test_accuracy"].idxmax(), "plan"]


def _smallest_that_fits(df, budget):
    fits = df[df["unique_params"] <= budget]
    return None if fits.empty else fits.loc[fits["unique_params"].idxmin(), "plan"]


def _strict_budget(df, budget):
    return SOL.pick_plan(df, budget - 1)


WRONG = [
    (nb10.check_10_patchify, _plain_reshape, "a plain reshape cuts each image row"),
    (nb10.check_10_patchify, _columns_first, "column by column"),
    (nb10.check_10_vit_parameter_count, _per_use, "you counted every layer's blocks"),
    (nb10.check_10_vit_parameter_count, _no_class_token, "add the class token"),
    (nb10.check_10_forward_flops, _flops_by_distinct_blocks, "every layer still runs"),
    (nb10.check_10_forward_flops, _macs, "2 FLOPs per multiply-add"),
    (nb10.check_10_pick_plan, _ignores_budget, "within the budget"),
    (nb10.check_10_pick_plan, _smallest_that_fits, "not the smallest"),
    (nb10.check_10_pick_plan, _strict_budget, "exactly the budget fits"),
]
