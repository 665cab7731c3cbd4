"""Reference solutions for the exercises of notebook 01 (attention from scratch).

Try the exercises first; ``course_lib.exercises`` tells you what is wrong with your answer.
Load these with ``course_lib.exercises.framework.load_solution("01_attention")``.
"""

import math

import torch


def attention_weights(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Exercise 1: softmax(q k^T / sqrt(d)) over the keys; (..., T, d) -> (..., T, T)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T_q, T_k)
    return torch.softmax(scores, dim=-1)


def causal_mask(t: int) -> torch.Tensor:
    """Exercise 2: (t, t) boolean, True on and below the diagonal (query i sees keys 0..i)."""
    return torch.ones(t, t, dtype=torch.bool).tril()


def padding_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Exercise 3: (B, T) ids -> (B, 1, 1, T) boolean, True at the real tokens."""
    return (ids != pad_id)[:, None, None, :]  # broadcasts over heads and queries


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Exercise 4a: (B, T, d) -> (B, h, T, d/h)."""
    b, t, d = x.shape
    return x.view(b, t, n_heads, d // n_heads).transpose(1, 2)  # (B, h, T, d/h)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """Exercise 4b: (B, h, T, d/h) -> (B, T, d), the inverse of split_heads."""
    b, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(b, t, h * dh)  # (B, T, d)
