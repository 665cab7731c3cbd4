"""Reference solutions for the exercises of notebook 13 (depth on demand).

Try the exercises first; ``course_lib.exercises`` tells you what is wrong with your
answer. Load these with ``course_lib.exercises.framework.load_solution("13_depth_on_demand")``.
"""

import math

import torch


def expert_choice(scores: torch.Tensor, eligible: torch.Tensor, capacity: float) -> torch.Tensor:
    """Exercise 1: the ceil(capacity x n) eligible tokens with the highest router scores."""
    k = min(math.ceil(capacity * len(scores) - 1e-9), int(eligible.sum()))
    masked = scores.masked_fill(~eligible, float("-inf"))  # stopped tokens cannot win
    chosen = torch.zeros_like(eligible)
    chosen[masked.topk(k).indices] = True
    return chosen


def recursion_flops(depth: torch.Tensor, d: int, d_ff: int, recursions: int) -> float:
    """Exercise 2: only the n_r tokens with depth > r compute at recursion r."""
    total = 0
    for r in range(recursions):
        n = int((depth > r).sum())
        total += 2 * n * (4 * d * d + 2 * d * d_ff) + 4 * n * n * d
    return float(total)


def sample_loops(mean: float, generator: torch.Generator) -> int:
    """Exercise 3: 1 + Poisson(mean - 1): at least one loop, mean ``mean``."""
    rate = torch.tensor([float(mean) - 1.0])
    return 1 + int(torch.poisson(rate, generator=generator).item())
