"""Notebook 12: plausible wrong answers (``WRONG``) and the hint each must get; tests/exercises/test_checks.py
runs them, with the reference solutions and the "not attempted" line of every check."""

import torch

from course_lib.exercises import nb12
from course_lib.exercises.framework import load_solution

S12 = load_solution("12_turning_a_trained_model_into_a_shared_one")


# ------------------------------------------------------------- exercise 1: shared init


def init_lower(weights, n_blocks, init):
    return (
        [w.clone() for w in weights[:n_blocks]]
        if init == "stepwise"
        else S12.shared_init(weights, n_blocks, init)
    )


def init_mean_of_all(weights, n_blocks, init):
    if init == "stepwise":
        return S12.shared_init(weights, n_blocks, init)
    return [torch.stack(weights).mean(0) for _ in range(n_blocks)]


def init_sequence_groups(weights, n_blocks, init):
    if init == "stepwise":
        return S12.shared_init(weights, n_blocks, init)
    n = len(weights)
    return [
        torch.stack(weights[b * n // n_blocks : (b + 1) * n // n_blocks]).mean(0)
        for b in range(n_blocks)
    ]


def init_sum(weights, n_blocks, init):
    if init == "stepwise":
        return S12.shared_init(weights, n_blocks, init)
    return [torch.stack(weights[b::n_blocks]).sum(0) for b in range(n_blocks)]


def init_step_by_m(weights, n_blocks, init):
    if init == "average":
        return S12.shared_init(weights, n_blocks, init)
    return [weights[b * n_blocks] for b in range(n_blocks)]


def init_ignores_method(weights, n_blocks, init):
    return S12.shared_init(weights, n_blocks, "stepwise")


def init_stacked(weights, n_blocks, init):
    return torch.stack(S12.shared_init(weights, n_blocks, init))


def init_too_many(weights, n_blocks, init):
    return [w.clone() for w in weights]


# ------------------------------------------------------------- exercise 2: SVD LoRA


def lora_no_s(residual, rank):
    u, s, vh = torch.linalg.svd(residual, full_matrices=False)
    return u[:, :rank], vh[:rank]


def lora_smallest(residual, rank):
    u, s, vh = torch.linalg.svd(residual, full_matrices=False)
    return u[:, -rank:] * s[-rank:], vh[-rank:]


def lora_v_not_vh(residual, rank):
    u, s, vh = torch.linalg.svd(residual, full_matrices=False)
    return u[:, :rank] * s[:rank], vh.T[:rank]


def lora_s_squared(residual, rank):
    u, s, vh = torch.linalg.svd(residual, full_matrices=False)
    return u[:, :rank] * s[:rank] ** 2, vh[:rank]


def lora_swapped(residual, rank):
    return tuple(reversed(S12.svd_lora(residual, rank)))


def lora_transposed(residual, rank):
    return S12.svd_lora(residual.T, rank)


def lora_columns_of_vh(residual, rank):
    u, s, vh = torch.linalg.svd(residual, full_matrices=False)
    return u[:, :rank] * s[:rank], vh[:, :rank]


def lora_product(residual, rank):
    b, a = S12.svd_lora(residual, rank)
    return b @ a


def lora_full_rank(residual, rank):
    u, s, vh = torch.linalg.svd(residual, full_matrices=False)
    return u * s, vh


def lora_sqrt_split(residual, rank):  # a right answer: sqrt(S) on each side, the same product
    u, s, vh = torch.linalg.svd(residual, full_matrices=False)
    return u[:, :rank] * s[:rank].sqrt(), s[:rank, None].sqrt() * vh[:rank]


# ------------------------------------------------------------- exercise 3: basis sharing


def basis_per_layer(weights, k):
    parts = [torch.linalg.svd(w, full_matrices=False) for w in weights]
    return [vh[:k] for _, _, vh in parts], [u[:, :k] * s[:k] for u, s, _ in parts]


def basis_columns(weights, k):
    u, s, vh = torch.linalg.svd(torch.cat(weights, dim=1), full_matrices=False)
    return vh[:k], [u[:, :k] * s[:k]] * len(weights)


def basis_not_split(weights, k):
    u, s, vh = torch.linalg.svd(torch.cat(weights, dim=0), full_matrices=False)
    return vh[:k], u[:, :k] * s[:k]


def basis_no_s(weights, k):
    u, s, vh = torch.linalg.svd(torch.cat(weights, dim=0), full_matrices=False)
    return vh[:k], list(u[:, :k].split(weights[0].shape[0]))


def basis_smallest(weights, k):
    u, s, vh = torch.linalg.svd(torch.cat(weights, dim=0), full_matrices=False)
    return vh[-k:], list((u[:, -k:] * s[-k:]).split(weights[0].shape[0]))


def basis_of_mean(weights, k):
    vh = torch.linalg.svd(torch.stack(weights).mean(0), full_matrices=False)[2][:k]
    return vh, [w @ vh.T for w in weights]


def basis_projection(weights, k):  # a right answer: coefficients as W_i V_k, the same product
    vh = torch.linalg.svd(torch.cat(weights, dim=0), full_matrices=False)[2][:k]
    return vh, [w @ vh.T for w in weights]


WRONG = [
    (nb12.check_12_shared_init, init_lower, "'lower' init"),
    (nb12.check_12_shared_init, init_mean_of_all, "not all N"),
    (nb12.check_12_shared_init, init_sequence_groups, "SEQUENCE's grouping"),
    (nb12.check_12_shared_init, init_sum, "the mean, not the sum"),
    (nb12.check_12_shared_init, init_step_by_m, "not by M"),
    (nb12.check_12_shared_init, init_ignores_method, "read the init argument"),
    (nb12.check_12_shared_init, init_stacked, "not one stacked tensor"),
    (nb12.check_12_shared_init, init_too_many, "one weight per block"),
    (nb12.check_12_svd_lora, lora_no_s, "scale by the singular values"),
    (nb12.check_12_svd_lora, lora_smallest, "LARGEST singular values"),
    (nb12.check_12_svd_lora, lora_v_not_vh, "returns Vh = V"),
    (nb12.check_12_svd_lora, lora_s_squared, "enter once"),
    (nb12.check_12_svd_lora, lora_swapped, r"return \(B, A\) in that order"),
    (nb12.check_12_svd_lora, lora_transposed, "not its transpose"),
    (nb12.check_12_svd_lora, lora_columns_of_vh, "ROWS of Vh"),
    (nb12.check_12_svd_lora, lora_product, "not their product"),
    (nb12.check_12_svd_lora, lora_full_rank, r"B is \(out, r\)"),
    (nb12.check_12_basis_share, basis_per_layer, "ONE basis shared"),
    (nb12.check_12_basis_share, basis_columns, "dim=0"),
    (nb12.check_12_basis_share, basis_not_split, "one \\(out, k\\) tensor per layer"),
    (nb12.check_12_basis_share, basis_no_s, "carry the singular values"),
    (nb12.check_12_basis_share, basis_smallest, "k LARGEST"),
    (nb12.check_12_basis_share, basis_of_mean, "not their mean"),
]


def test_equivalent_right_answers_pass(capsys):
    nb12.check_12_svd_lora(lora_sqrt_split)
    nb12.check_12_basis_share(basis_projection)
    out = capsys.readouterr().out
    assert out.count("✓") == 2, out


def test_reference_solutions_agree_with_course_lib():
    from course_lib.nn.recursive import basis_share, shared_init, truncated_svd

    ws = [torch.randn(4, 3) for _ in range(4)]
    for init in ("stepwise", "average"):
        assert all(
            torch.equal(a, b)
            for a, b in zip(S12.shared_init(ws, 2, init), shared_init(ws, 2, init), strict=True)
        )
    b, a = S12.svd_lora(ws[0], 2)
    rb, ra = truncated_svd(ws[0], 2)
    assert torch.allclose(b @ a, rb @ ra, atol=1e-5)
    basis, coeffs = S12.basis_share(ws, 2)
    rbasis, rcoeffs = basis_share(ws, 2)
    assert all(
        torch.allclose(c @ basis, rc @ rbasis, atol=1e-5)
        for c, rc in zip(coeffs, rcoeffs, strict=True)
    )
