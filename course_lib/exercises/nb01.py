"""Self-checks of notebook 01 (attention from scratch): attention weights, causal and padding masks, heads.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/01_attention.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .framework import check, check_close, exercise, passed, run


@exercise
def check_01_attention_weights(fn: Callable) -> None:
    """fn(q, k) -> softmax(q k^T / sqrt(d)) over the keys, shape (..., T_q, T_k)."""
    g = torch.Generator().manual_seed(1)
    for shape in [(5, 16), (2, 3, 7, 8)]:
        q, k = torch.randn(*shape, generator=g) * 2, torch.randn(*shape, generator=g) * 2
        w = run(fn, q, k)
        scores = q @ k.transpose(-2, -1)
        want = torch.softmax(scores / math.sqrt(q.size(-1)), dim=-1)
        check(isinstance(w, torch.Tensor), f"return a tensor, got {type(w).__name__}")
        check(w.shape == want.shape, f"weights have shape (..., T_q, T_k) = {tuple(want.shape)}")
        rows = w.sum(-1)
        check(
            torch.allclose(rows, torch.ones_like(rows), atol=1e-5),
            "each row must sum to 1: apply the softmax over the last dimension (the keys), dim=-1",
        )
        if torch.allclose(w, torch.softmax(scores, dim=-1), atol=1e-5):
            raise AssertionError(
                "scale the scores: divide by sqrt(d), d = q.size(-1), before softmax"
            )
        if torch.allclose(w, torch.softmax(scores / q.size(-1), dim=-1), atol=1e-5):
            raise AssertionError("scale by the square root of d, not by d itself")
        check_close(w, want, "weights = softmax(q @ k.transpose(-2, -1) / sqrt(d), dim=-1)")
    passed("check_01_attention_weights", 2)


@exercise
def check_01_causal_mask(fn: Callable) -> None:
    """fn(t) -> (t, t) bool, True where query i may attend to key j (j <= i)."""
    for t in (1, 4, 7):
        m = run(fn, t)
        check(isinstance(m, torch.Tensor), f"return a tensor, got {type(m).__name__}")
        check(m.shape == (t, t), f"the mask for t={t} has shape ({t}, {t}), got {tuple(m.shape)}")
        check(m.dtype == torch.bool, f"return a boolean tensor (True = may attend), not {m.dtype}")
        want = torch.ones(t, t, dtype=torch.bool).tril()
        check(m.diagonal().all(), "a token may attend to itself: the diagonal must be True")
        if t > 1 and torch.equal(m, want.T):
            raise AssertionError(
                "query i may see keys 0..i (the past): keep the lower triangle (tril), not triu"
            )
        check(torch.equal(m, want), "True on and below the diagonal: torch.ones(t, t).tril()")
    passed("check_01_causal_mask", 3)


@exercise
def check_01_padding_mask(fn: Callable) -> None:
    """fn(ids, pad_id) -> (B, 1, 1, T) bool, True at real (non-padding) keys."""
    ids = torch.tensor([[5, 6, 7, 0, 0], [3, 4, 0, 0, 0], [9, 9, 9, 9, 9]])
    for pad_id in (0, 9):
        m = run(fn, ids, pad_id)
        want = (ids != pad_id)[:, None, None, :]
        check(isinstance(m, torch.Tensor), f"return a tensor, got {type(m).__name__}")
        check(m.dtype == torch.bool, f"return a boolean tensor (True = may attend), not {m.dtype}")
        if m.shape == ids.shape:
            raise AssertionError(
                "return shape (B, 1, 1, T) so it broadcasts over heads and queries: "
                "mask[:, None, None, :]"
            )
        check(m.shape == want.shape, f"expected shape (B, 1, 1, T) = {tuple(want.shape)}")
        if torch.equal(m, ~want):
            raise AssertionError(
                "True must mark the real tokens (ids != pad_id), the keys a query may attend to"
            )
        check(torch.equal(m, want), "mask = (ids != pad_id)[:, None, None, :]")
    passed("check_01_padding_mask", 2)


@exercise
def check_01_split_heads(split_heads: Callable, merge_heads: Callable) -> None:
    """split_heads(x, h): (B, T, d) -> (B, h, T, d/h); merge_heads undoes it."""
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)
    for h in (2, 4):
        y = run(split_heads, x, h)
        want = x.view(2, 3, h, 8 // h).transpose(1, 2)
        check(isinstance(y, torch.Tensor), f"return a tensor, got {type(y).__name__}")
        check(y.shape == want.shape, f"(B, T, d) -> (B, h, T, d/h) = {tuple(want.shape)}")
        check(
            torch.equal(y, want),
            "view as (B, T, h, d/h) first, then swap T and h with .transpose(1, 2); a direct "
            "view to (B, h, T, d/h) mixes different tokens into one head",
        )
        back = run(merge_heads, want)
        check(isinstance(back, torch.Tensor), f"return a tensor, got {type(back).__name__}")
        check(
            back.shape == x.shape and torch.equal(back, x),
            "merge_heads must undo split_heads: .transpose(1, 2) then .reshape(B, T, d)",
        )
    passed("check_01_split_heads", 4)
