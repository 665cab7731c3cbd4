"""Notebook 10: plausible wrong answers (``WRONG``) and the hint each must get;
tests/exercises/test_checks.py runs them, with the reference solutions of every notebook."""

from course_lib import count_parameters_per_use
from course_lib.exercises import nb10
from course_lib.exercises.framework import load_solution
from course_lib.nn.sharing import SharingPlan
from course_lib.nn.vision import build_vit

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


# ---- notebook 10, more mistakes (issue 17)


def _patches_unflattened(images, p):
    b = images.size(0)
    return SOL.patchify(images, p).view(b, -1, p, p)


def _patches_unfold_layout(images, p):
    return SOL.patchify(images, p).transpose(1, 2)


def _patches_pixels_by_column(images, p):
    b, h, w = images.shape
    x = images.reshape(b, h // p, p, w // p, p).permute(0, 1, 3, 4, 2)
    return x.reshape(b, -1, p * p)


def _patches_with_channels(images, p):
    b, c, h, w = images.shape
    return SOL.patchify(images[:, 0], p)


def _count_float(cfg, p):
    return float(SOL.vit_parameter_count(cfg, p))


def _count_no_final_norm(cfg, p):
    return SOL.vit_parameter_count(cfg, p) - 2 * cfg.d_model


def _count_head_without_bias(cfg, p):
    return SOL.vit_parameter_count(cfg, p) - cfg.n_classes


def _count_one_block_when_shared(cfg, p):
    plan = SharingPlan.from_config(cfg)
    if plan.n_attn == plan.n_ffn:
        return SOL.vit_parameter_count(cfg, p)
    return SOL.vit_parameter_count(cfg.replace(sharing="all", n_blocks=None), p)


def _flops_float(cfg, p):
    return float(SOL.forward_flops(cfg, p))


def _flops_without_class_token(cfg, p):
    return nb10._flops_of(cfg, 16, scores=16)


def _flops_head_per_token(cfg, p):
    return nb10._flops_of(cfg, 17, head=17)


def _flops_without_patch_embedding(cfg, p):
    return nb10._flops_of(cfg, 17, embed=False)


def _flops_scores_per_token(cfg, p):
    return nb10._flops_of(cfg, 17, scores=1)


def _pick_without_empty_check(df, budget):
    fits = df[df["unique_params"] <= budget]
    return fits.loc[fits["test_accuracy"].idxmax(), "plan"]


def _pick_row_index(df, budget):
    fits = df[df["unique_params"] <= budget]
    return None if fits.empty else int(fits["test_accuracy"].idxmax())


def _pick_row(df, budget):
    fits = df[df["unique_params"] <= budget]
    return None if fits.empty else fits.loc[fits["test_accuracy"].idxmax()]


def _pick_least_accurate(df, budget):
    fits = df[df["unique_params"] <= budget]
    return None if fits.empty else fits.loc[fits["test_accuracy"].idxmin(), "plan"]


def _pick_empty_string(df, budget):
    return SOL.pick_plan(df, budget) or ""


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
    (nb10.check_10_patchify, _patches_unflattened, "flatten each p x p patch"),
    (nb10.check_10_patchify, _patches_unfold_layout, "F.unfold's layout"),
    (nb10.check_10_patchify, _patches_pixels_by_column, "inside a patch you read the pixels"),
    (nb10.check_10_patchify, _patches_with_channels, "no channel dimension"),
    (nb10.check_10_vit_parameter_count, _count_float, "not the float"),
    (nb10.check_10_vit_parameter_count, _count_no_final_norm, "ends with a LayerNorm"),
    (nb10.check_10_vit_parameter_count, _count_head_without_bias, "has a bias"),
    (nb10.check_10_vit_parameter_count, _count_one_block_when_shared, "shares one half only"),
    (nb10.check_10_forward_flops, _flops_float, "not the float"),
    (nb10.check_10_forward_flops, _flops_without_class_token, "AND the class token"),
    (nb10.check_10_forward_flops, _flops_head_per_token, "the head runs once per image"),
    (nb10.check_10_forward_flops, _flops_without_patch_embedding, "add the patch embedding"),
    (nb10.check_10_forward_flops, _flops_scores_per_token, "each of T queries meets T keys"),
    (nb10.check_10_pick_plan, _pick_without_empty_check, "check `fits.empty` first"),
    (nb10.check_10_pick_plan, _pick_row_index, "is a row index"),
    (nb10.check_10_pick_plan, _pick_row, "not a row"),
    (nb10.check_10_pick_plan, _pick_least_accurate, "HIGHEST test_accuracy"),
    (nb10.check_10_pick_plan, _pick_empty_string, "return None when no plan fits, not ''"),
]


def test_the_flops_mistakes_formula_gives_the_counter_when_nothing_is_left_out():
    for case in nb10.PLAN_CASES:
        cfg = nb10.vit_config(**case)
        assert nb10._flops_of(cfg, 17) == SOL.forward_flops(cfg, 2)
