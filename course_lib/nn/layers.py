"""The pieces of a Transformer block, written from scratch (notebooks 01 and 02).

A block is two *sublayers*, attention then feed-forward, each with its own LayerNorm,
residual connection and dropout. Keeping them as separate modules is what lets a plan
share the attention sublayer alone (ALBERT's attention-shared variant), the FFN alone,
or both (Lan et al. 2020). One block holds 4d^2 + 2*d*d_ff + 9d + d_ff parameters:
biases on every linear layer and two LayerNorms, as in BERT and ALBERT.

Follows Vaswani et al. (2017) for attention; pre-LN vs post-LN as in Xiong et al. (2020).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.config import ACTIVATIONS, reject
from course_lib.i18n import _


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v, the attention of notebook 01.

    q, k, v: (..., T, d). mask: boolean, broadcastable to (..., T, T), True where a query
    may attend to a key. A query row with no allowed key returns zeros, not NaN.
    ``dropout_p`` > 0 drops attention probabilities (not outputs), as PyTorch's
    ``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention`` do.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T, T)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    weights = torch.nan_to_num(weights, nan=0.0)  # rows that were all -inf
    if dropout_p > 0:
        weights = F.dropout(weights, dropout_p)  # each kept probability scaled by 1/(1-p)
    return weights @ v


def causal_mask(t: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(T, T) boolean mask, True on and below the diagonal: token i sees tokens 0..i."""
    return torch.ones(t, t, dtype=torch.bool, device=device).tril()


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention with separate Q, K, V and output projections (4d^2 + 4d)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, impl: str = "manual"):
        super().__init__()
        assert d_model % n_heads == 0, "d_model must be divisible by n_heads"
        self.n_heads = n_heads
        self.impl = impl  # "manual": our code; "sdpa": PyTorch's fused kernel
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d = x.shape
        h = self.n_heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, h, d // h).transpose(1, 2)  # (B, h, T, d/h)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        p = self.dropout if self.training else 0.0
        if self.impl == "sdpa":
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:
            y = scaled_dot_product_attention(q, k, v, mask, p)  # dropout on the probabilities
        y = y.transpose(1, 2).reshape(b, t, d)  # (B, T, d): heads side by side again
        return self.out_proj(y)


class FeedForward(nn.Module):
    """Position-wise MLP d -> d_ff -> d (2*d*d_ff + d_ff + d parameters)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "gelu"):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.act = _activation(activation)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(self.act(self.fc1(x))))


def _activation(name: str) -> nn.Module:
    """gelu (exact), gelu_tanh (the tanh approximation, HF's "gelu_new" in ALBERT) or relu."""
    if name not in ACTIVATIONS:  # ModelConfig checks it too; FeedForward is built directly in 02
        choices = ", ".join(repr(c) for c in ACTIVATIONS)
        reject("activation", name, _("choose one of {choices}").format(choices=choices))
    if name == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    return nn.GELU() if name == "gelu" else nn.ReLU()


class Sublayer(nn.Module):
    """LayerNorm + residual around one function (attention or FFN), pre-LN or post-LN.

    pre-LN:  x + f(norm(x))      (GPT-2 and later; trains without warm-up tricks)
    post-LN: norm(x + f(x))      (original Transformer, BERT, ALBERT)
    """

    def __init__(
        self, d_model: int, fn: nn.Module, norm_first: bool, dropout: float = 0.0, eps: float = 1e-5
    ):
        super().__init__()
        self.norm = nn.LayerNorm(d_model, eps=eps)
        self.fn = fn
        self.norm_first = norm_first
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, *args) -> torch.Tensor:
        if self.norm_first:
            return x + self.drop(self.fn(self.norm(x), *args))
        return self.norm(x + self.drop(self.fn(x, *args)))


class Block(nn.Module):
    """One Transformer layer: attention sublayer, then FFN sublayer.

    The two sublayers are passed in, so several blocks can hold the very same sublayer
    object: that is all parameter sharing is.
    """

    def __init__(self, attn: Sublayer, ffn: Sublayer):
        super().__init__()
        self.attn = attn
        self.ffn = ffn

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.attn(x, mask)
        x = self.ffn(x)
        return x


def make_block(
    d_model: int,
    n_heads: int,
    d_ff: int,
    norm_first: bool = True,
    dropout: float = 0.0,
    activation: str = "gelu",
    impl: str = "manual",
) -> Block:
    """A block with weights of its own (nothing shared): the attention half (4d^2 + 6d
    parameters), then the feed-forward half (2*d*d_ff + d_ff + 3d)."""
    attn = MultiHeadSelfAttention(d_model, n_heads, dropout, impl)
    ffn = FeedForward(d_model, d_ff, dropout, activation)
    return Block(
        Sublayer(d_model, attn, norm_first, dropout), Sublayer(d_model, ffn, norm_first, dropout)
    )


def block_parameter_count(d_model: int, d_ff: int) -> int:
    """Parameters of one block by formula: 4d^2 + 2*d*d_ff + 9d + d_ff."""
    return attention_parameter_count(d_model) + ffn_parameter_count(d_model, d_ff)


def attention_parameter_count(d_model: int) -> int:
    """Q, K, V, out: 4(d^2 + d); LayerNorm: 2d."""
    return 4 * d_model * d_model + 6 * d_model


def ffn_parameter_count(d_model: int, d_ff: int) -> int:
    """fc1: d*d_ff + d_ff; fc2: d_ff*d + d; LayerNorm: 2d."""
    return 2 * d_model * d_ff + d_ff + 3 * d_model
