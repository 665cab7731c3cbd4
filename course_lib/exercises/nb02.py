"""Self-checks of notebook 02 (the Transformer block): LayerNorm, post-LN sublayer, counts, a shared layer.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/02_block.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .framework import check, check_close, exercise, passed, run


@exercise
def check_02_layer_norm(fn: Callable) -> None:
    """fn(x, weight, bias, eps) equals F.layer_norm over the last dimension."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 5, 8, generator=g) * 3 + 1
    w, b = torch.randn(8, generator=g), torch.randn(8, generator=g)
    out = run(fn, x, w, b, 1e-5)
    want = F.layer_norm(x, (8,), w, b, 1e-5)
    check(isinstance(out, torch.Tensor), f"return a tensor, got {type(out).__name__}")
    check(out.shape == x.shape, f"the output has the input's shape {tuple(x.shape)}")
    mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=True)
    if torch.allclose(out, (x - mean) / torch.sqrt(var + 1e-5) * w + b, atol=1e-4):
        raise AssertionError("use the biased variance (unbiased=False), as nn.LayerNorm does")
    plain = F.layer_norm(x, (8,), None, None, 1e-5)
    if torch.allclose(out, plain, atol=1e-4):
        raise AssertionError("after normalising, scale by weight and add bias: y = x_hat * w + b")
    check_close(
        out, want, "normalise each token: mean and variance over dim=-1 with keepdim=True", 1e-4
    )
    const = torch.full((2, 8), 4.0)
    out = run(fn, const, w, b, 1e-5)
    check(
        torch.isfinite(out).all() and torch.allclose(out, b.expand(2, 8), atol=1e-4),
        "add eps inside the square root: a constant vector has variance 0",
    )
    passed("check_02_layer_norm", 2)


@exercise
def check_02_post_ln_sublayer(fn: Callable) -> None:
    """fn(x, f, norm) -> norm(x + f(x)), the post-LN sublayer of BERT and ALBERT."""
    f, norm = nn.Linear(8, 8), nn.LayerNorm(8)
    nn.init.normal_(norm.weight, 1.0, 0.3)
    x = torch.randn(2, 4, 8) * 2
    with torch.no_grad():
        out = run(fn, x, f, norm)
        check(isinstance(out, torch.Tensor), f"return a tensor, got {type(out).__name__}")
        check(out.shape == x.shape, f"the output has the input's shape {tuple(x.shape)}")
        if torch.allclose(out, x + f(norm(x)), atol=1e-5):
            raise AssertionError(
                "that is pre-LN, x + f(norm(x)); post-LN adds the residual first: norm(x + f(x))"
            )
        if torch.allclose(out, norm(f(x)), atol=1e-5):
            raise AssertionError("keep the residual: add the input x to f(x) before the norm")
        check_close(out, norm(x + f(x)), "post-LN is norm(x + f(x))")
    passed("check_02_post_ln_sublayer", 1)


@exercise
def check_02_block_parameter_count(fn: Callable) -> None:
    """fn(d, d_ff) -> 4d^2 + 2*d*d_ff + 9d + d_ff (biases everywhere, two LayerNorms)."""
    sizes = [(256, 1024), (64, 256), (768, 3072), (10, 7)]
    for d, ff in sizes:
        n = run(fn, d, ff)
        check(isinstance(n, int), f"return an int, got {type(n).__name__}")
        want = 4 * d * d + 2 * d * ff + 9 * d + ff
        if n == want - 4 * d:
            raise AssertionError("add the two LayerNorms: each holds d weights and d biases (+4d)")
        if n == want - 5 * d - ff:
            raise AssertionError("every Linear has a bias: Q, K, V, out (4d), fc1 (d_ff), fc2 (d)")
        check(
            n == want,
            f"for d={d}, d_ff={ff} the block has {want:,} parameters, you gave {n:,}: "
            "attention 4d^2 + 4d, FFN 2*d*d_ff + d_ff + d, two LayerNorms 4d",
        )
    passed("check_02_block_parameter_count", len(sizes))


@exercise
def check_02_share_layer(fn: Callable) -> None:
    """fn(layer, n) -> nn.ModuleList holding the very same ``layer`` object n times."""
    layer = nn.Linear(4, 4)
    for n in (1, 3):
        stack = run(fn, layer, n)
        check(isinstance(stack, nn.ModuleList), "return an nn.ModuleList so PyTorch registers it")
        check(len(stack) == n, f"the list holds n={n} entries, got {len(stack)}")
        check(
            all(m is layer for m in stack),
            "copy.deepcopy (what nn.TransformerEncoder does) makes new tensors: "
            "put the very same module object in the list n times",
        )
        unique = sum(p.numel() for p in stack.parameters())
        check(unique == 20, f"parameters() counts a shared tensor once: 20, got {unique}")
    passed("check_02_share_layer", 2)
