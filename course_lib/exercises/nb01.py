"""Self-checks of notebook 01 (attention from scratch): attention weights, causal and padding masks, heads.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/01_attention.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from course_lib.exercises.compare import check, check_close, check_tensor, name_mistake
from course_lib.exercises.framework import Likely, exercise, if_error_says, passed, run
from course_lib.i18n import _


def _attention_raised(shape: tuple[int, ...]) -> Likely:
    """The probable mistake when the learner's attention raises on input of ``shape``."""
    if len(shape) == 2:
        return _(
            "q and k are (T, d) = {shape}: the scores need the keys transposed, q @ "
            "k.transpose(-2, -1) is (T, d) @ (d, T)"
        ).format(shape=shape)
    return _(
        "on batched input {shape} swap only the last two dimensions, k.transpose(-2, -1): k.T "
        "reverses all {n_dims} of them, giving {reversed}"
    ).format(shape=shape, n_dims=len(shape), reversed=shape[::-1])


@exercise
def check_01_attention_weights(fn: Callable) -> None:
    """fn(q, k) -> softmax(q k^T / sqrt(d)) over the keys, shape (..., T_q, T_k)."""
    g = torch.Generator().manual_seed(1)
    for shape in [(5, 16), (2, 3, 7, 8)]:
        q, k = torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)
        w = run(fn, q, k, likely=_attention_raised(shape))
        d, t = q.size(-1), q.size(-2)
        scores = q @ k.transpose(-2, -1)
        want = torch.softmax(scores / math.sqrt(d), dim=-1)
        check_tensor(w)
        if len(shape) > 2 and w.shape == shape[:-2] + (t, t) + shape[:-2]:
            raise AssertionError(_attention_raised(shape))
        check(
            w.shape == want.shape,
            _("weights have shape (..., T_q, T_k) = {shape}").format(shape=tuple(want.shape)),
        )
        name_mistake(w, want, [
            (scores / math.sqrt(d),
             _("apply the softmax: those are the scaled scores, not weights that sum to 1")),
            (torch.softmax(scores / math.sqrt(d), dim=-2),
             _("apply the softmax over the last dimension (the keys), dim=-1; dim=-2 "
               "normalises over the queries")),
            (torch.softmax(scores / math.sqrt(d), dim=1),
             _("give softmax dim=-1 explicitly: without it (or with dim=1) PyTorch picks the "
               "heads dimension of a 4-D tensor")),
            (torch.softmax(scores, dim=-1),
             _("scale the scores: divide by sqrt(d), d = q.size(-1), before softmax")),
            (torch.softmax(scores / d, dim=-1),
             _("scale by the square root of d, not by d itself")),
            (torch.softmax(scores * math.sqrt(d), dim=-1),
             _("divide the scores by sqrt(d); you multiplied")),
            (torch.softmax(scores / math.sqrt(t), dim=-1),
             _("d is the feature size q.size(-1) = {d}, not the number of tokens {t}").format(
                 d=d, t=t)),
            (torch.softmax(k @ q.transpose(-2, -1) / math.sqrt(d), dim=-1),
             _("that is k @ q^T: row i must hold query i's weights, scores = q @ k^T")),
        ])  # fmt: skip
        rows = w.sum(-1)
        check(
            torch.allclose(rows, torch.ones_like(rows), atol=1e-5),
            _(
                "each row must sum to 1: apply the softmax over the last dimension (the keys), "
                "dim=-1"
            ),
        )
        check_close(
            w,
            want,
            _("the weights are the softmax over the keys of the scores q . k scaled by 1/sqrt(d)"),
        )
    passed("check_01_attention_weights", 2)


@exercise
def check_01_causal_mask(fn: Callable) -> None:
    """fn(t) -> (t, t) bool, True where query i may attend to key j (j <= i)."""
    for t in (4, 7, 1):
        m = run(fn, t)
        check_tensor(m)
        check(
            m.shape == (t, t),
            _("the mask for t={t} has shape ({t}, {t}), got {shape}").format(
                t=t, shape=tuple(m.shape)
            ),
        )
        if m.is_floating_point() and torch.isinf(m).any():
            raise AssertionError(
                _(
                    "that is an additive mask of 0 and -inf; return the boolean mask "
                    "(True = may attend), which attention turns into -inf itself"
                )
            )
        check(
            m.dtype == torch.bool,
            _("return a boolean tensor (True = may attend), not {dtype}").format(dtype=m.dtype),
        )
        want = torch.ones(t, t, dtype=torch.bool).tril()
        if torch.equal(m, ~want):
            raise AssertionError(
                _(
                    "True must mark the keys a query MAY attend to; you marked the forbidden "
                    "ones (nn.MultiheadAttention's opposite convention)"
                )
            )
        if t > 1 and m.all():
            raise AssertionError(_("mask the future: above the diagonal must be False"))
        check(m.diagonal().all(), _("a token may attend to itself: the diagonal must be True"))
        if t > 1 and torch.equal(m, want.T):
            raise AssertionError(
                _("query i may see keys 0..i (the past): keep the lower triangle (tril), not triu")
            )
        check(
            torch.equal(m, want),
            _("True on and below the diagonal (key j <= query i), False above"),
        )
    passed("check_01_causal_mask", 3)


@exercise
def check_01_padding_mask(fn: Callable) -> None:
    """fn(ids, pad_id) -> (B, 1, 1, T) bool, True at real (non-padding) keys."""
    ids = torch.tensor([[5, 6, 7, 0, 0], [3, 4, 0, 0, 0], [9, 9, 9, 9, 9]])
    for pad_id in (0, 9):
        m = run(fn, ids, pad_id)
        want = (ids != pad_id)[:, None, None, :]
        check_tensor(m)
        check(
            m.dtype == torch.bool,
            _("return a boolean tensor (True = may attend), not {dtype}").format(dtype=m.dtype),
        )
        if m.shape == ids.shape:
            raise AssertionError(
                _(
                    "return shape (B, 1, 1, T) so it broadcasts over heads and queries: "
                    "mask[:, None, None, :]"
                )
            )
        if m.shape == (3, 1, 5, 1):
            raise AssertionError(
                _(
                    "the keys are the LAST dimension: (B, 1, 1, T), mask[:, None, None, :]; "
                    "(B, 1, T, 1) would mask queries instead"
                )
            )
        if m.shape == (3, 1, 5):
            raise AssertionError(_("add two new dimensions, for heads and queries: (B, 1, 1, T)"))
        check(
            m.shape == want.shape,
            _("expected shape (B, 1, 1, T) = {shape}").format(shape=tuple(want.shape)),
        )
        if torch.equal(m, ~want):
            raise AssertionError(
                _("True must mark the real tokens (ids != pad_id), the keys a query may attend to")
            )
        if pad_id != 0 and torch.equal(m, (ids != 0)[:, None, None, :]):
            raise AssertionError(
                _("use the pad_id argument (here {pad_id}), not a fixed 0").format(pad_id=pad_id)
            )
        check(
            torch.equal(m, want), _("True exactly where the id is not pad_id, shaped (B, 1, 1, T)")
        )
    passed("check_01_padding_mask", 2)


@exercise
def check_01_split_heads(split_heads: Callable, merge_heads: Callable) -> None:
    """split_heads(x, h): (B, T, d) -> (B, h, T, d/h); merge_heads undoes it."""
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)
    for h in (2, 4):
        y = run(split_heads, x, h)
        want = x.view(2, 3, h, 8 // h).transpose(1, 2)
        check_tensor(y)
        if y.shape == (2, 3, h, 8 // h):
            raise AssertionError(
                _("that is (B, T, h, d/h): now swap T and h with .transpose(1, 2)")
            )
        check(
            y.shape == want.shape,
            _("(B, T, d) -> (B, h, T, d/h) = {shape}").format(shape=tuple(want.shape)),
        )
        if torch.equal(y, x.view(2, 3, 8 // h, h).permute(0, 3, 1, 2)):
            raise AssertionError(
                _(
                    "view as (B, T, h, d/h): the head index comes before the feature index, "
                    "so head 0 holds features 0 .. d/h - 1"
                )
            )
        check(
            torch.equal(y, want),
            _(
                "view as (B, T, h, d/h) first, then swap T and h with .transpose(1, 2); a direct "
                "view to (B, h, T, d/h) mixes different tokens into one head"
            ),
        )
        back = run(
            merge_heads,
            want.contiguous(),  # as the attention output is: .view after .transpose fails
            likely=if_error_says(
                "view",
                "contiguous",
                hint=_(
                    "after .transpose the tensor is not contiguous, so .view fails: use "
                    ".reshape (or .contiguous().view)"
                ),
            ),
        )
        check_tensor(back)
        if back.shape == (2, 3, h, 8 // h):
            raise AssertionError(
                _("merge_heads returns (B, T, d): after .transpose(1, 2), .reshape(B, T, d)")
            )
        check(
            back.shape == x.shape and torch.equal(back, x),
            _("merge_heads must undo split_heads: .transpose(1, 2) then .reshape(B, T, d)"),
        )
    passed("check_01_split_heads", 4)
