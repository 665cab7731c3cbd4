"""Self-checks of notebook 10 (beyond text): patches, ViT parameter count and FLOPs, picking a plan.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/10_beyond_text.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch

from course_lib.exercises.compare import check, check_close, check_tensor, check_type
from course_lib.exercises.framework import exercise, if_error_says, passed, run
from course_lib.i18n import _
from course_lib.measure.cost import counted_flops
from course_lib.nn.counts import count_parameters, count_parameters_per_use
from course_lib.nn.layers import attention_parameter_count, ffn_parameter_count
from course_lib.nn.sharing import SharingPlan
from course_lib.nn.vision import (
    build_vit,
    patchify,
    vit_config,
    vit_forward_flops,
    vit_parameter_count,
)


@exercise
def check_10_patchify(fn: Callable) -> None:
    """fn(images (B, H, W), p) -> (B, n_patches, p*p), patches row by row."""
    g = torch.Generator().manual_seed(10)
    images = torch.rand(3, 8, 8, generator=g)
    for p in (2, 4, 1):
        out = run(
            fn,
            images,
            p,
            likely=if_error_says(
                "unpack",
                hint=_("images are (B, H, W) = (3, 8, 8): one channel, no channel dimension"),
            ),
        )
        want = patchify(images, p)
        n = (8 // p) ** 2
        check_tensor(out)
        if p > 1 and out.shape == (3, n, p, p):
            raise AssertionError(
                _("flatten each p x p patch into p*p = {pp} values: (B, n_patches, p*p)").format(
                    pp=p * p
                )
            )
        if p > 1 and out.shape == (3, p * p, n):
            raise AssertionError(
                _(
                    "the patches run along dim 1: (B, n_patches, p*p) = (3, {n}, {pp}), you "
                    "returned (B, p*p, n_patches) (F.unfold's layout: .transpose(1, 2))"
                ).format(n=n, pp=p * p)
            )
        check(
            out.shape == want.shape,
            _("for p={p}: (B, n_patches, p*p) = {want_shape}, got {out_shape}").format(
                p=p, want_shape=tuple(want.shape), out_shape=tuple(out.shape)
            ),
        )
        if p > 1 and torch.equal(out, images.reshape(3, -1, p * p)):
            raise AssertionError(
                _(
                    "a plain reshape cuts each image row into pieces, not p x p squares: reshape "
                    "to (B, H/p, p, W/p, p), permute to (B, H/p, W/p, p, p), then flatten"
                )
            )
        if p > 1 and torch.equal(
            out, patchify(images, p).view(3, n, p, p).transpose(2, 3).reshape(3, n, p * p)
        ):
            raise AssertionError(
                _(
                    "the patches are in the right order, but inside a patch you read the pixels "
                    "column by column: keep them in row order (permute to (B, H/p, W/p, p, p))"
                )
            )
        cols_first = patchify(images.transpose(1, 2), p)
        if p < 8 and torch.equal(out, cols_first):
            raise AssertionError(
                _(
                    "you walked the image column by column: number the patches row by row "
                    "(left to right, then top to bottom) and keep the pixels of a patch in row order"
                )
            )
        check_close(
            out, want, _("patch k holds the p x p square at row k // (W/p), column k % (W/p)")
        )
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
        if isinstance(n, float) and n == int(n):
            raise AssertionError(
                _("return an int, not the float {n}: count with integers").format(n=n)
            )
        model = build_vit(cfg, p)
        want = count_parameters(model)
        assert want == vit_parameter_count(cfg, p)  # our own formula, not the learner's
        d, where = cfg.d_model, f"(sharing={cfg.sharing!r}, patch_size={p})"
        check_type(n, int, _("return an int, got {type}"))
        if n == count_parameters_per_use(model) != want:
            raise AssertionError(
                _(
                    "you counted every layer's blocks {where}: a shared block exists once, so count "
                    "the plan's distinct attention and FFN sets (SharingPlan.n_attn, .n_ffn)"
                ).format(where=where)
            )
        if n == want - d or n == want - (8 // p) ** 2 * d - 2 * d:
            raise AssertionError(
                _(
                    "{where}: add the class token (d values) and the positions, one row of d per "
                    "patch plus one for the class token"
                ).format(where=where)
            )
        if n == want - 2 * d:
            raise AssertionError(
                _("{where}: a pre-LN stack ends with a LayerNorm (2d)").format(where=where)
            )
        if n == want - cfg.n_classes:
            raise AssertionError(
                _("{where}: the head Linear(d, 10) has a bias: d*10 + 10").format(where=where)
            )
        plan = SharingPlan.from_config(cfg)
        if plan.n_attn != plan.n_ffn and n == want - (
            (plan.n_attn - 1) * attention_parameter_count(d)
            + (plan.n_ffn - 1) * ffn_parameter_count(d, cfg.d_ff)
        ):
            raise AssertionError(
                _(
                    "{where}: the plan shares one half only: count plan.n_attn = {n_attn} "
                    "attention sets and plan.n_ffn = {n_ffn} FFN sets, not one block"
                ).format(where=where, n_attn=plan.n_attn, n_ffn=plan.n_ffn)
            )
        check(
            n == want,
            _(
                "{where}: the model has {want:,} unique parameters, you gave {n:,}; "
                "patch embedding p*p*d + d, class token d, positions (n_patches + 1)*d, "
                "blocks by the plan, final LayerNorm 2d, head d*10 + 10"
            ).format(where=where, want=want, n=n),
        )
    passed("check_10_vit_parameter_count", len(PLAN_CASES))


def _flops_of(cfg, tokens: int, head: int = 1, embed: bool = True, scores: int = 17) -> int:
    """A ViT's forward FLOPs at patch size 2 (16 patches) as the usual mistakes count them."""
    d, ff = cfg.d_model, cfg.d_ff
    layer = 8 * tokens * d * d + 4 * tokens * scores * d + 4 * tokens * d * ff
    embedding = 2 * 16 * 4 * d if embed else 0
    return embedding + cfg.n_layers * layer + head * 2 * d * cfg.n_classes


@exercise
def check_10_forward_flops(fn: Callable) -> None:
    """fn(cfg, patch_size) -> forward FLOPs of one image, as PyTorch's counter counts them."""
    images = torch.rand(1, 8, 8)
    for case in PLAN_CASES:
        cfg = vit_config(**case)
        f = run(fn, cfg, 2)
        want = counted_flops(build_vit(cfg, 2), images)
        assert want == vit_forward_flops(cfg, 2)  # our own formula agrees with the counter
        if isinstance(f, float) and f == int(f):
            raise AssertionError(_("return an int, not the float {f}").format(f=f))
        check_type(f, int, _("return an int, got {type}"))
        if cfg.sharing != "none" and f != run(fn, cfg.replace(sharing="none", n_blocks=None), 2):
            raise AssertionError(
                _(
                    "your count changes between sharing='none' and sharing={sharing!r}: every "
                    "layer still runs its matrix products, shared or not; use n_layers (N)"
                ).format(sharing=cfg.sharing)
            )
        if f == want // 2:
            raise AssertionError(_("count 2 FLOPs per multiply-add (one multiply, one add)"))
        n, t = 16, 17  # p = 2: 16 patches and the class token
        named = {
            _flops_of(cfg, n, scores=n):
                _("T is the number of tokens, the patches AND the class token: T = n_patches + 1"),
            _flops_of(cfg, t, head=t):
                _("the head runs once per image, on the class token, not on every token"),
            _flops_of(cfg, t, embed=False): _("add the patch embedding: 2 x n_patches x p*p x d"),
            _flops_of(cfg, t, scores=1):
                _("the attention scores cost 2*T*T*d per image (each of T queries meets T keys), "
                  "and as much again for weights @ V"),
        }  # fmt: skip
        if f != want and f in named:
            raise AssertionError(named[f])
        check(
            f == want,
            _(
                "sharing={sharing!r}, {n_layers} layers: the counter finds {want:,} FLOPs, "
                "you gave {f:,}; per layer 8*T*d^2 (Q, K, V, out) + 4*T^2*d (scores, mixing) "
                "+ 4*T*d*d_ff (FFN) with T = patches + 1, plus the patch embedding and the head"
            ).format(sharing=cfg.sharing, n_layers=cfg.n_layers, want=want, f=f),
        )
    passed("check_10_forward_flops", len(PLAN_CASES))


@exercise
def check_10_pick_plan(fn: Callable) -> None:
    """fn(df, budget) -> the plan (df["plan"]) with the best test_accuracy among the rows
    with unique_params <= budget; None when no plan fits."""
    df = pd.DataFrame(
        {
            "plan": ["none", "all", "attention", "ffn", "cycle", "cycle_rev"],
            "unique_params": [52_000, 9_700, 31_000, 31_100, 18_200, 25_000],
            "test_accuracy": [0.95, 0.91, 0.93, 0.94, 0.92, 0.88],
        }
    )
    cases = [(26_000, "cycle"), (31_100, "ffn"), (9_700, "all"), (60_000, "none"), (5_000, None)]
    for budget, want in cases:
        got = run(
            fn,
            df.copy(),
            budget,
            likely=if_error_says(
                "empty",
                hint=_(
                    "budget={budget:,}: no plan fits, so the selection is empty and argmax "
                    "has nothing to choose from: check `fits.empty` first and return None"
                ).format(budget=budget),
            ),
        )
        if isinstance(got, pd.Series | pd.DataFrame):
            raise AssertionError(
                _("budget={budget:,}: return the plan's name (a str), not a row").format(
                    budget=budget
                )
            )
        if want is not None and isinstance(got, int) and not isinstance(got, bool):
            raise AssertionError(
                _(
                    "budget={budget:,}: {got} is a row index; return the name in df['plan'], "
                    "df.loc[index, 'plan']"
                ).format(budget=budget, got=got)
            )
        if want is None and got is not None and not got:
            raise AssertionError(
                _("budget={budget:,}: return None when no plan fits, not {got!r}").format(
                    budget=budget, got=got
                )
            )
        fits = df[df["unique_params"] <= budget]
        below = df[df["unique_params"] < budget]
        mistakes = [] if fits.empty else [
            (df.loc[df["test_accuracy"].idxmax(), "plan"],
             _("keep only the plans within the budget: unique_params <= budget")),
            (fits.loc[fits["unique_params"].idxmin(), "plan"],
             _("among the plans that fit, take the most accurate, not the smallest")),
            (fits.loc[fits["test_accuracy"].idxmin(), "plan"],
             _("the best plan has the HIGHEST test_accuracy: idxmax, not idxmin")),
            (None if below.empty else below.loc[below["test_accuracy"].idxmax(), "plan"],
             _("budget={budget:,}: a plan with exactly the budget fits (<=, not <)").format(budget=budget)),
        ]  # fmt: skip
        for result, hint in mistakes:
            if got == result != want:
                raise AssertionError(hint)
        check(
            got == want,
            _(
                "budget={budget:,}: expected {want!r}, got {got!r} (return None when no plan fits)"
            ).format(budget=budget, want=want, got=got)
            if want is None
            else _("budget={budget:,}: expected {want!r}, got {got!r}").format(
                budget=budget, want=want, got=got
            ),
        )
    passed("check_10_pick_plan", len(cases))
