"""Reference solutions for the exercises of notebook 09 (depth for free).

Try the exercises first; ``course_lib.exercises`` tells you what is wrong with your
answer. Load these with ``course_lib.exercises.framework.load_solution("09_depth_for_free")``.
"""

import torch

from course_lib.config import ModelConfig
from course_lib.nn.looped import IGNORE


def same_params_deeper(cfg: ModelConfig, factor: int) -> ModelConfig:
    """Exercise 1: factor x the layers, cycling through cfg's N blocks (M = N)."""
    return cfg.replace(n_layers=factor * cfg.n_layers, sharing="cycle", n_blocks=cfg.n_layers)


def act_halting(p: torch.Tensor, eps: float) -> tuple[int, torch.Tensor]:
    """Exercise 2: ACT for one position: the halting step N (1-based) and the weights."""
    weights = torch.zeros_like(p)
    total = 0.0
    for n in range(len(p)):
        last = n == len(p) - 1
        if total + float(p[n]) >= 1 - eps or last:
            weights[n] = 1 - total  # the remainder R, so the weights sum to 1
            return n + 1, weights
        weights[n] = p[n]
        total += float(p[n])
    raise ValueError("p must hold at least one step")


def sequence_accuracy(pred: torch.Tensor, targets: torch.Tensor) -> float:
    """Exercise 3: the fraction of rows whose every output slot is right."""
    slots = targets != IGNORE
    right = (pred == targets) | ~slots  # input positions count as right
    return right.all(dim=1).float().mean().item()
