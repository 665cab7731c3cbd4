"""Self-checks of notebook 02 (the Transformer block): LayerNorm, post-LN sublayer, counts, a shared layer.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/02_block.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.exercises.compare import check, check_close, check_tensor, check_type, name_mistake
from course_lib.exercises.framework import exercise, if_error_says, passed, run
from course_lib.i18n import _


def _check_keeps_shape(out: object, x: torch.Tensor) -> None:
    """The learner's layer returned a tensor of its input ``x``'s shape."""
    check_tensor(out)
    check(
        out.shape == x.shape,
        _("the output has the input's shape {shape}").format(shape=tuple(x.shape)),
    )


def _layer_norm_mistakes(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, eps: float) -> list:
    """What the usual LayerNorm mistakes return on ``x``, each with its hint."""
    mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)
    x_hat = (x - mean) / torch.sqrt(var + eps)
    unbiased = x.var(-1, keepdim=True, unbiased=True)
    return [
        ((x - mean) / torch.sqrt(unbiased + eps) * w + b,
         _("use the biased variance (unbiased=False), as nn.LayerNorm does")),
        (x_hat, _("after normalising, scale by weight and add bias: y = x_hat * w + b")),
        (x_hat + b, _("you forgot the scale: multiply x_hat by weight (gamma) before adding bias")),
        (x_hat * w, _("you forgot the shift: add bias (beta) after scaling by weight")),
        ((x - mean) / (torch.sqrt(var) + eps) * w + b,
         _("add eps INSIDE the square root: sqrt(var + eps), not sqrt(var) + eps")),
        ((x - mean) / torch.sqrt(var) * w + b,
         _("add eps inside the square root: without it a token of (near) zero variance "
           "divides by (almost) 0")),
        ((x - mean) / torch.sqrt(var + 1e-5) * w + b,
         _("use the eps argument (here {eps}), not a fixed 1e-5").format(eps=eps)),
        ((x - mean) / (var + eps) * w + b,
         _("divide by the standard deviation sqrt(var + eps), not by the variance")),
        ((x - x.mean()) / torch.sqrt(x.var(unbiased=False) + eps) * w + b,
         _("normalise each token on its own: mean and variance over dim=-1, not over the "
           "whole tensor")),
        ((x - x.mean(-2, keepdim=True)) / torch.sqrt(x.var(-2, keepdim=True, unbiased=False) + eps)
         * w + b,
         _("normalise each token: mean and variance over dim=-1 (the features) with "
           "keepdim=True, not over the tokens")),
    ]  # fmt: skip


@exercise
def check_02_layer_norm(fn: Callable) -> None:
    """fn(x, weight, bias, eps) equals F.layer_norm over the last dimension."""
    g = torch.Generator().manual_seed(2)
    w, b = torch.randn(8, generator=g), torch.randn(8, generator=g)
    cases = [  # ordinary tokens; then tokens of tiny variance, where eps matters
        (torch.randn(3, 5, 8, generator=g) * 3 + 1, 1e-5),
        (torch.randn(3, 5, 8, generator=g) * 1e-2 + 2, 1e-3),
    ]
    for x, eps in cases:
        out = run(
            fn,
            x,
            w,
            b,
            eps,
            likely=if_error_says(
                "must match",
                hint=_(
                    "x is {shape}: take the mean and variance with keepdim=True, so they stay "
                    "{kept_shape} and broadcast against x"
                ).format(shape=tuple(x.shape), kept_shape=tuple(x.shape[:-1]) + (1,)),
            ),
        )
        want = F.layer_norm(x, (8,), w, b, eps)
        _check_keeps_shape(out, x)
        name_mistake(out, want, _layer_norm_mistakes(x, w, b, eps), atol=1e-4)
        check_close(
            out,
            want,
            _("normalise each token: mean and variance over dim=-1 with keepdim=True"),
            1e-4,
        )
    const = torch.full((2, 8), 4.0)
    out = run(fn, const, w, b, 1e-5)
    check(
        torch.isfinite(out).all() and torch.allclose(out, b.expand(2, 8), atol=1e-4),
        _("add eps inside the square root: a constant vector has variance 0"),
    )
    passed("check_02_layer_norm", 3)


@exercise
def check_02_post_ln_sublayer(fn: Callable) -> None:
    """fn(x, f, norm) -> norm(x + f(x)), the post-LN sublayer of BERT and ALBERT."""
    f, norm = nn.Linear(8, 8), nn.LayerNorm(8)
    nn.init.normal_(norm.weight, 1.0, 0.3)
    nn.init.normal_(norm.bias, 0.0, 0.3)
    x = torch.randn(2, 4, 8) * 2
    with torch.no_grad():
        out = run(fn, x, f, norm)
        _check_keeps_shape(out, x)
        name_mistake(out, norm(x + f(x)), [
            (x + f(norm(x)),
             _("that is pre-LN, x + f(norm(x)); post-LN adds the residual first: norm(x + f(x))")),
            (norm(f(x)), _("keep the residual: add the input x to f(x) before the norm")),
            (f(norm(x)), _("that is pre-LN without its residual; post-LN is norm(x + f(x))")),
            (x + f(x), _("apply the norm to the sum: post-LN ends with norm(x + f(x))")),
            (x + norm(f(x)), _("normalise the SUM x + f(x), not only f(x)")),
            (norm(x) + f(x), _("add first, then normalise: norm(x + f(x)), not norm(x) + f(x)")),
            (norm(x + f(norm(x))), _("f takes x itself in post-LN: norm(x + f(x))")),
        ])  # fmt: skip
        check_close(out, norm(x + f(x)), _("post-LN is norm(x + f(x))"))
    passed("check_02_post_ln_sublayer", 1)


@exercise
def check_02_block_parameter_count(fn: Callable) -> None:
    """fn(d, d_ff) -> 4d^2 + 2*d*d_ff + 9d + d_ff (biases everywhere, two LayerNorms)."""
    sizes = [(256, 1024), (64, 256), (768, 3072), (10, 7)]
    for d, ff in sizes:
        n = run(fn, d, ff)
        check_type(n, int, _("return an int, got {type}"))
        want = 4 * d * d + 2 * d * ff + 9 * d + ff
        name_mistake(n, want, [
            (want - 4 * d, _("add the two LayerNorms: each holds d weights and d biases (+4d)")),
            (want - 2 * d, _("there are TWO LayerNorms, one per sublayer: 4d in all")),
            (want - 5 * d - ff,
             _("every Linear has a bias: Q, K, V, out (4d), fc1 (d_ff), fc2 (d)")),
            (want - d * d - d,
             _("attention has four projections, Q, K, V and the output: 4d^2 + 4d")),
            (want - d * ff, _("the FFN holds two matrices, d x d_ff and d_ff x d: 2*d*d_ff")),
            (want - d + ff, _("fc2 maps d_ff -> d, so its bias holds d numbers, not d_ff")),
        ], atol=0)  # fmt: skip
        check(
            n == want,
            _(
                "for d={d}, d_ff={ff} the block has {want:,} parameters, you gave {n:,}: "
                "attention 4d^2 + 4d, FFN 2*d*d_ff + d_ff + d, two LayerNorms 4d"
            ).format(d=d, ff=ff, want=want, n=n),
        )
    passed("check_02_block_parameter_count", len(sizes))


@exercise
def check_02_share_layer(fn: Callable) -> None:
    """fn(layer, n) -> nn.ModuleList holding the very same ``layer`` object n times."""
    layer = nn.Linear(4, 4)
    for n in (3, 1):
        stack = run(fn, layer, n)
        if isinstance(stack, nn.Sequential):
            raise AssertionError(
                _(
                    "return an nn.ModuleList, not an nn.Sequential: the stack calls its layers "
                    "itself, one by one"
                )
            )
        check(
            isinstance(stack, nn.ModuleList),
            _(
                "return an nn.ModuleList: PyTorch registers its entries as submodules, a {type} "
                "is not registered"
            ).format(type=type(stack).__name__),
        )
        check(
            len(stack) == n,
            _("the list holds n={n} entries, got {got}").format(n=n, got=len(stack)),
        )
        if not all(m is layer for m in stack) and all(
            m.weight.data_ptr() == layer.weight.data_ptr() for m in stack
        ):
            raise AssertionError(
                _(
                    "copy.copy makes a new module object that still holds layer's tensors: put "
                    "`layer` itself in the list, so that the stack is visibly one module"
                )
            )
        if not all(m is layer for m in stack):
            copies = all(
                isinstance(m, nn.Linear) and torch.equal(m.weight, layer.weight) for m in stack
            )
            raise AssertionError(
                _(
                    "copy.deepcopy (what nn.TransformerEncoder does) makes new tensors: "
                    "put the very same module object in the list n times"
                )
                if copies
                else _(
                    "you built new layers with new weights: put the `layer` you were given "
                    "in the list n times"
                )
            )
        unique = sum(p.numel() for p in stack.parameters())
        check(
            unique == 20,
            _("parameters() counts a shared tensor once: 20, got {unique}").format(unique=unique),
        )
    passed("check_02_share_layer", 2)
