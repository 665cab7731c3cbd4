"""Self-checks of notebook 10 (beyond text): patches, ViT parameter count and FLOPs, picking a plan.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/10_beyond_text.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..cost import counted_flops
from ..measure import count_parameters, count_parameters_per_use
from ..vision import build_vit, patchify, vit_config, vit_forward_flops, vit_parameter_count
from .framework import check, check_close, exercise, passed, run


@exercise
def check_10_patchify(fn: Callable) -> None:
    """fn(images (B, H, W), p) -> (B, n_patches, p*p), patches row by row."""
    g = torch.Generator().manual_seed(10)
    images = torch.rand(3, 8, 8, generator=g)
    for p in (2, 4, 1):
        out = run(fn, images, p)
        want = patchify(images, p)
        check(isinstance(out, torch.Tensor), f"return a tensor, got {type(out).__name__}")
        check(
            out.shape == want.shape,
            f"for p={p}: (B, n_patches, p*p) = {tuple(want.shape)}, got {tuple(out.shape)}",
        )
        if p > 1 and torch.equal(out, images.reshape(3, -1, p * p)):
            raise AssertionError(
                "a plain reshape cuts each image row into pieces, not p x p squares: reshape "
                "to (B, H/p, p, W/p, p), permute to (B, H/p, W/p, p, p), then flatten"
            )
        cols_first = patchify(images.transpose(1, 2), p)
        if p < 8 and torch.equal(out, cols_first):
            raise AssertionError(
                "you walked the image column by column: number the patches row by row "
                "(left to right, then top to bottom) and keep the pixels of a patch in row order"
            )
        check_close(out, want, "patch k holds the p x p square at row k // (W/p), column k % (W/p)")
    passed("check_10_patchify", 3)


PLAN_CASES = [
    dict(sharing="none"),
    dict(sharing="all"),
    dict(sharing="attention", n_layers=4),
    dict(sharing="ffn", d_model=16, d_ff=48),
    dict(sharing="cycle", n_blocks=2),
]


@exercise
def check_10_vit_parameter_count(fn: Callable) -> None:
    """fn(cfg, patch_size) -> unique parameters of build_vit(cfg, patch_size)."""
    for case, p in zip(PLAN_CASES, (2, 2, 4, 1, 2), strict=True):
        cfg = vit_config(**{**case, "max_len": (8 // p) ** 2 + 1})
        n = run(fn, cfg, p)
        model = build_vit(cfg, p)
        want = count_parameters(model)
        assert want == vit_parameter_count(cfg, p)  # our own formula, not the learner's
        d, where = cfg.d_model, f"(sharing={cfg.sharing!r}, patch_size={p})"
        check(isinstance(n, int), f"return an int, got {type(n).__name__}")
        if n == count_parameters_per_use(model) != want:
            raise AssertionError(
                f"you counted every layer's blocks {where}: a shared block exists once, so count "
                "the plan's distinct attention and FFN sets (SharingPlan.n_attn, .n_ffn)"
            )
        if n == want - d or n == want - (8 // p) ** 2 * d - 2 * d:
            raise AssertionError(
                f"{where}: add the class token (d values) and the positions, one row of d per "
                "patch plus one for the class token"
            )
        if n == want - 2 * d:
            raise AssertionError(f"{where}: a pre-LN stack ends with a LayerNorm (2d)")
        check(
            n == want,
            f"{where}: the model has {want:,} unique parameters, you gave {n:,}; "
            "patch embedding p*p*d + d, class token d, positions (n_patches + 1)*d, "
            "blocks by the plan, final LayerNorm 2d, head d*10 + 10",
        )
    passed("check_10_vit_parameter_count", len(PLAN_CASES))


@exercise
def check_10_forward_flops(fn: Callable) -> None:
    """fn(cfg, patch_size) -> forward FLOPs of one image, as PyTorch's counter counts them."""
    images = torch.rand(1, 8, 8)
    for case in PLAN_CASES:
        cfg = vit_config(**case)
        f = run(fn, cfg, 2)
        want = counted_flops(build_vit(cfg, 2), images)
        assert want == vit_forward_flops(cfg, 2)  # our own formula agrees with the counter
        check(isinstance(f, int), f"return an int, got {type(f).__name__}")
        if cfg.sharing != "none" and f != run(fn, cfg.replace(sharing="none", n_blocks=None), 2):
            raise AssertionError(
                f"your count changes between sharing='none' and sharing={cfg.sharing!r}: every "
                "layer still runs its matrix products, shared or not; use n_layers (N)"
            )
        if f == want // 2:
            raise AssertionError("count 2 FLOPs per multiply-add (one multiply, one add)")
        check(
            f == want,
            f"sharing={cfg.sharing!r}, {cfg.n_layers} layers: the counter finds {want:,} FLOPs, "
            f"you gave {f:,}; per layer 8*T*d^2 (Q, K, V, out) + 4*T^2*d (scores, mixing) "
            "+ 4*T*d*d_ff (FFN) with T = patches + 1, plus the patch embedding and the head",
        )
    passed("check_10_forward_flops", len(PLAN_CASES))


@exercise
def check_10_pick_plan(fn: Callable) -> None:
    """fn(df, budget) -> the plan (df["plan"]) with the best test_accuracy among the rows
    with unique_params <= budget; None when no plan fits."""
    import pandas as pd

    df = pd.DataFrame(
        {
            "plan": ["none", "all", "attention", "ffn", "cycle"],
            "unique_params": [52_000, 9_700, 31_000, 31_100, 18_200],
            "test_accuracy": [0.95, 0.90, 0.93, 0.94, 0.92],
        }
    )
    cases = [(20_000, "cycle"), (31_100, "ffn"), (9_700, "all"), (60_000, "none"), (5_000, None)]
    for budget, want in cases:
        got = run(fn, df.copy(), budget)
        if budget == 20_000 and got == "none":
            raise AssertionError("keep only the plans within the budget: unique_params <= budget")
        if budget == 20_000 and got == "all":
            raise AssertionError(
                "among the plans that fit, take the most accurate, not the smallest"
            )
        if (budget, got) in ((31_100, "attention"), (9_700, None)):
            raise AssertionError(
                f"budget={budget:,}: a plan with exactly the budget fits (<=, not <)"
            )
        check(
            got == want,
            f"budget={budget:,}: expected {want!r}, got {got!r}"
            + (" (return None when no plan fits)" if want is None else ""),
        )
    passed("check_10_pick_plan", len(cases))
