"""Reference solutions for the exercises of notebook 12 (turning a trained model into a shared one).

Try the exercises first; ``course_lib.exercises`` tells you what is wrong with your
answer. Load these with
``course_lib.exercises.framework.load_solution("12_turning_a_trained_model_into_a_shared_one")``.
"""

import torch


def shared_init(weights: list[torch.Tensor], n_blocks: int, init: str) -> list[torch.Tensor]:
    """Exercise 1: block b of a CYCLE plan serves layers b, b+M, ...; stepwise takes layer
    b * N // M, average the mean of the layers it serves."""
    n = len(weights)
    if init == "stepwise":
        return [weights[b * n // n_blocks].clone() for b in range(n_blocks)]
    return [torch.stack(weights[b::n_blocks]).mean(0) for b in range(n_blocks)]


def svd_lora(residual: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exercise 2: B = U_r S_r (out, r) and A = V_r^T (r, in) from the truncated SVD."""
    u, s, vh = torch.linalg.svd(residual, full_matrices=False)
    return u[:, :rank] * s[:rank], vh[:rank]


def basis_share(weights: list[torch.Tensor], k: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Exercise 3: stack to (N*out, in), one SVD; basis Vh[:k] (k, in), coefficients
    (U_k S_k) split into one (out, k) part per layer."""
    u, s, vh = torch.linalg.svd(torch.cat(weights, dim=0), full_matrices=False)
    coeffs = u[:, :k] * s[:k]  # (N*out, k)
    return vh[:k], list(coeffs.split(weights[0].shape[0], dim=0))
