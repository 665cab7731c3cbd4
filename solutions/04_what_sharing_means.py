"""Reference solutions for the exercises of notebook 04 (what sharing means).

Load these with ``course_lib.exercises.framework.load_solution("04_what_sharing_means")``.
"""

import copy

import torch
from torch import nn

from course_lib.nn.plan_summary import explore


def count_unique(model: nn.Module) -> int:
    """Exercise 1: parameters, each tensor once, however many names it has."""
    seen = {}
    for _, p in model.named_parameters(remove_duplicate=False):
        seen[id(p)] = p.numel()  # one entry per tensor object
    return sum(seen.values())


def grad_via_copies(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """Exercise 2: the shared weight's gradient, from two unshared copies of the layer."""
    first, second = copy.deepcopy(layer), copy.deepcopy(layer)
    second(torch.relu(first(x))).sum().backward()
    return first.weight.grad + second.weight.grad  # a shared weight gets the sum


def shared_elements(m1: nn.Module, m2: nn.Module) -> int:
    """Exercise 3: how many parameter numbers the two modules hold in the same memory."""
    ptrs = {p.data_ptr(): p.numel() for p in m1.parameters()}
    return sum(p.numel() for p in m2.parameters() if ptrs.get(p.data_ptr()) == p.numel())


def hadamard_weights(l1: nn.Linear, l3: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """Exercise 4: the blog's [W2; b2] = [W1; b1] ⊙ [W3; b3], elementwise, gradients kept."""
    return l1.weight * l3.weight, l1.bias * l3.bias


def cycle_block_counts(d: int, d_ff: int, n_layers: int, n_blocks: int) -> tuple[int, int]:
    """Exercise 5: (unique, per-use) parameters of the blocks of a CYCLE stack."""
    block = 4 * d * d + 2 * d * d_ff + 9 * d + d_ff
    return n_blocks * block, n_layers * block


def max_blocks_within(budget_mb: float, n_layers: int = 12) -> int:
    """Exercise 6: the largest M whose CYCLE model fits ``budget_mb`` MB at fp32 (0 if none)."""
    best = 0
    for m in range(1, n_layers + 1):
        view = explore("cycle", n_layers=n_layers, n_blocks=m)
        if view.param_mb <= budget_mb:
            best = m
    return best
