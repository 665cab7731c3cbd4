"""Reference solutions for the exercises of notebook 02 (the Transformer block).

Load these with ``course_lib.exercises.framework.load_solution("02_block")``.
"""

import torch
from torch import nn


def layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Exercise 1: normalise each vector over the last dimension, then scale and shift."""
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)  # biased, as nn.LayerNorm
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def post_ln_sublayer(x: torch.Tensor, f: nn.Module, norm: nn.Module) -> torch.Tensor:
    """Exercise 2: post-LN (original Transformer, BERT, ALBERT): residual, then norm."""
    return norm(x + f(x))


def block_parameter_count(d: int, d_ff: int) -> int:
    """Exercise 3: parameters of one block with biases everywhere and two LayerNorms."""
    attention = 4 * (d * d + d)  # Q, K, V and output projections, weights and biases
    ffn = (d * d_ff + d_ff) + (d_ff * d + d)  # fc1 and fc2
    norms = 2 * (2 * d)  # two LayerNorms, each a weight and a bias of size d
    return attention + ffn + norms


def share_layer(layer: nn.Module, n: int) -> nn.ModuleList:
    """Exercise 4: n layers that are one layer: the same object n times, no copies."""
    return nn.ModuleList([layer] * n)
