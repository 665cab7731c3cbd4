"""Self-checks of notebook 12 (turning a trained model into a shared one): the shared blocks'
initialisation, the SVD-initialised LoRA, and a shared basis.

Conventions: ``course_lib.exercises``. Reference solutions:
``solutions/12_turning_a_trained_model_into_a_shared_one.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.exercises.compare import check, check_type, name_mistake, same
from course_lib.exercises.framework import exercise, if_error_says, passed, run
from course_lib.i18n import _
from course_lib.nn.recursive import basis_share, shared_init, truncated_svd


def _weights(n: int, shape=(3, 2), seed: int = 12) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g) for _ in range(n)]


INIT_CASES = [(6, 3, "stepwise"), (6, 3, "average"), (6, 2, "stepwise"), (4, 2, "average")]


@exercise
def check_12_shared_init(fn: Callable) -> None:
    """fn(weights, n_blocks, init) -> the M block weights of a CYCLE plan (stepwise/average)."""
    for n, m, init in INIT_CASES:
        ws = _weights(n)
        out = run(
            fn,
            [w.clone() for w in ws],
            m,
            init,
            likely=if_error_says(
                "out of range",
                hint=_(
                    "stepwise takes layer b * N // M, stepping by N // M layers, not by M: with b < M it stays below N"
                ),
            ),
        )
        if isinstance(out, torch.Tensor):
            raise AssertionError(
                _("return a list of M = {m} tensors, not one stacked tensor").format(m=m)
            )
        check_type(out, list | tuple, _("return a list of M tensors, got {type}"))
        check(
            len(out) == m,
            _("N={n}, M={m}: one weight per block, {m} in all; got {got}").format(
                n=n, m=m, got=len(out)
            ),
        )
        want = shared_init(ws, m, init)
        group = [torch.stack(ws[b * n // m : (b + 1) * n // m]).mean(0) for b in range(m)]
        mistakes = [
            ([ws[b] for b in range(m)], _("that is the 'lower' init (the first M layers); stepwise "
                                          "takes every (N/M)-th layer: weights[b * N // M]")),
            ([torch.stack(ws).mean(0)] * m, _("each block averages only the layers it serves, not "
                                              "all N: weights[b::M]")),
            (group, _("you averaged consecutive layers (SEQUENCE's grouping); under CYCLE block b "
                      "serves layers b, b+M, b+2M, ...: weights[b::M]")),
            ([torch.stack(ws[b::m]).sum(0) for b in range(m)], _("divide by the number of layers "
                                                                 "a block serves: the mean, not the sum")),
            ([ws[b * m] for b in range(m)] if (m - 1) * m < n else [], _("stepwise steps by N // M "
                                                                         "layers, not by M: weights[b * N // M]")),
            (shared_init(ws, m, "stepwise" if init == "average" else "average"),
             _("init={init!r}: you returned the other method's weights; read the init argument").format(init=init)),
        ]  # fmt: skip
        got = [torch.as_tensor(w) for w in out]
        for result, hint in mistakes:
            if len(result) == m and all(same(g, r) for g, r in zip(got, result, strict=True)):
                if not all(same(w, r) for w, r in zip(want, result, strict=True)):
                    raise AssertionError(hint)
        for b, (g, w) in enumerate(zip(got, want, strict=True)):
            check(
                same(g, w),
                _("N={n}, M={m}, init={init!r}: block {b} is wrong").format(
                    n=n, m=m, init=init, b=b
                ),
            )
    passed("check_12_shared_init", len(INIT_CASES))


@exercise
def check_12_svd_lora(fn: Callable) -> None:
    """fn(residual (out, in), rank) -> (B (out, r), A (r, in)), B @ A its best rank-r approximation."""
    g = torch.Generator().manual_seed(7)
    for shape, r in (((8, 6), 2), ((5, 9), 3), ((6, 6), 1)):
        res = torch.randn(*shape, generator=g)
        out = run(fn, res.clone(), r)
        if isinstance(out, torch.Tensor):
            raise AssertionError(_("return the pair (B, A), not their product B @ A"))
        check(isinstance(out, tuple | list) and len(out) == 2, _("return a pair (B, A)"))
        b, a = out
        check(isinstance(b, torch.Tensor) and isinstance(a, torch.Tensor), _("B and A are tensors"))
        want_b, want_a = truncated_svd(res, r)
        if b.shape == want_a.shape and a.shape == want_b.shape and shape[0] != shape[1]:
            raise AssertionError(
                _("return (B, A) in that order: B (out, r) = {want_b_shape} first").format(
                    want_b_shape=tuple(want_b.shape)
                )
            )
        if b.shape == (shape[1], r) and shape[0] != shape[1]:
            raise AssertionError(_("decompose the residual itself (out, in), not its transpose"))
        if a.shape == (shape[1], r):
            raise AssertionError(_("A is (r, in): the first r ROWS of Vh, Vh[:r], not its columns"))
        check(
            b.shape == want_b.shape and a.shape == want_a.shape,
            _(
                "rank {r}: B is (out, r) = {want_b_shape} and A is (r, in) = {want_a_shape}; got {b_shape} and {a_shape}"
            ).format(
                r=r,
                want_b_shape=tuple(want_b.shape),
                want_a_shape=tuple(want_a.shape),
                b_shape=tuple(b.shape),
                a_shape=tuple(a.shape),
            ),
        )
        u, s, vh = torch.linalg.svd(res, full_matrices=False)
        name_mistake(b @ a, want_b @ want_a, [
            (u[:, :r] @ vh[:r], _("scale by the singular values: B = U[:, :r] * S[:r]")),
            ((u[:, -r:] * s[-r:]) @ vh[-r:], _("keep the r LARGEST singular values: svd returns them "
                                               "in descending order, so take the first r, not the last")),
            ((u[:, :r] * s[:r]) @ vh.T[:r], _("torch.linalg.svd returns Vh = V^T: A = Vh[:r] as it "
                                              "is (with torch.svd, which returns V, it is V[:, :r].T)")),
            ((u[:, :r] * s[:r] ** 2) @ vh[:r], _("the singular values enter once: B = U_r S_r, not "
                                                 "U_r S_r^2")),
        ], atol=1e-4)  # fmt: skip
        check(
            same(b @ a, want_b @ want_a, atol=1e-4),
            _("B @ A must be the truncated SVD of the residual: U_r S_r V_r^T"),
        )
    passed("check_12_svd_lora", 3)


@exercise
def check_12_basis_share(fn: Callable) -> None:
    """fn(weights, k) -> (basis (k, in), coefficients: N tensors (out, k)), W_i ~ c_i @ basis."""
    for n, (d_out, d_in), k in ((3, (5, 4), 2), (4, (3, 6), 3)):
        ws = _weights(n, (d_out, d_in), seed=n)
        out = run(fn, [w.clone() for w in ws], k)
        check(
            isinstance(out, tuple | list) and len(out) == 2,
            _("return a pair (basis, coefficients)"),
        )
        basis, coeffs = out
        if isinstance(basis, list | tuple):
            raise AssertionError(
                _(
                    "ONE basis shared by all layers: a single (k, in) tensor, not one per layer (that is per-layer SVD)"
                )
            )
        check(isinstance(basis, torch.Tensor), _("the basis is a tensor (k, in)"))
        if basis.shape == (d_out, k) or basis.shape == (k, n * d_in):
            raise AssertionError(
                _(
                    "stack the layers one under the other, torch.cat(weights, dim=0) (N*out, in): the basis spans the INPUT side, shape ({k}, {d_in})"
                ).format(k=k, d_in=d_in)
            )
        check(
            basis.shape == (k, d_in),
            _("the basis is (k, in) = ({k}, {d_in}), got {basis_shape}").format(
                k=k, d_in=d_in, basis_shape=tuple(basis.shape)
            ),
        )
        if isinstance(coeffs, torch.Tensor) and coeffs.shape == (n * d_out, k):
            raise AssertionError(
                _(
                    "split the coefficients into one (out, k) tensor per layer: .split({d_out}, dim=0)"
                ).format(d_out=d_out)
            )
        check(
            isinstance(coeffs, list | tuple) and len(coeffs) == n,
            _("return N = {n} coefficient tensors, one per layer").format(n=n),
        )
        got = torch.cat([c @ basis for c in coeffs])
        ref_basis, ref_coeffs = basis_share(ws, k)
        want = torch.cat([c @ ref_basis for c in ref_coeffs])
        u, s, vh = torch.linalg.svd(torch.cat(ws), full_matrices=False)
        mean_vh = torch.linalg.svd(torch.stack(ws).mean(0), full_matrices=False)[2][:k]
        name_mistake(got, want, [
            (u[:, :k] @ vh[:k], _("the coefficients carry the singular values: U[:, :k] * S[:k]")),
            ((u[:, -k:] * s[-k:]) @ vh[-k:], _("keep the k LARGEST singular values: the first k")),
            (torch.cat([w @ mean_vh.T @ mean_vh for w in ws]), _("decompose the stacked layers, not "
                                                                 "their mean: the mean's basis misses what the layers do not share")),
        ], atol=1e-4)  # fmt: skip
        check(
            same(got, want, atol=1e-4),
            _("coeffs[i] @ basis must be layer i's part of the stacked rank-k SVD"),
        )
    passed("check_12_basis_share", 2)
