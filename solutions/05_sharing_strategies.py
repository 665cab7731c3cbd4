"""Reference solutions for the exercises of notebook 05 (sharing strategies).

Load these with ``course_lib.exercises.framework.load_solution("05_sharing_strategies")``.
"""

import math

import pandas as pd
import torch
from torch import nn


def albert_stack_params(strategy: str, d: int, d_ff: int, n_layers: int) -> int:
    """Exercise 1: unique parameters of the blocks under ALBERT's none/all/attention/ffn."""
    attn = 4 * d * d + 6 * d  # Q, K, V, out with biases, and a LayerNorm
    ffn = 2 * d * d_ff + d_ff + 3 * d  # fc1, fc2 with biases, and a LayerNorm
    n_attn = 1 if strategy in ("all", "attention") else n_layers
    n_ffn = 1 if strategy in ("all", "ffn") else n_layers
    return n_attn * attn + n_ffn * ffn


def block_map(strategy: str, n_layers: int, n_blocks: int) -> list[int]:
    """Exercise 2: the block each layer uses under SEQUENCE, CYCLE or CYCLE-REV."""
    if strategy == "sequence":
        return [i * n_blocks // n_layers for i in range(n_layers)]
    if strategy == "cycle":
        return [i % n_blocks for i in range(n_layers)]
    last_round = (math.ceil(n_layers / n_blocks) - 1) * n_blocks  # first layer of the last round
    return [
        i % n_blocks if i < last_round else n_blocks - 1 - i % n_blocks for i in range(n_layers)
    ]


def repeat_plan(n_blocks: int, repeats: int) -> list[int]:
    """Exercise 3: immediate repetition: each block runs ``repeats`` times in a row."""
    return [b for b in range(n_blocks) for _ in range(repeats)]


def ut_forward(block: nn.Module, x: torch.Tensor, step_emb: torch.Tensor) -> torch.Tensor:
    """Exercise 4: a Universal Transformer: the same block N times, step t adds step_emb[t]."""
    for t in range(step_emb.size(0)):
        x = block(x + step_emb[t])
    return x


def sandwich_ids(n_layers: int) -> list[int]:
    """Exercise 5: first and last layers own their weights, the middle shares one block."""
    return [0] + [1] * (n_layers - 2) + [2]


def lora_linear(x, weight, bias, A, B) -> torch.Tensor:
    """Exercise 6: a linear layer whose shared weight gets this layer's low-rank delta B A."""
    return x @ (weight + B @ A).T + bias  # (..., in) -> (..., out)


def add_saving(table: pd.DataFrame) -> pd.DataFrame:
    """Exercise 7: the share of per-use parameters that sharing does not store."""
    return table.assign(saving=1 - table["unique"] / table["per_use"])
