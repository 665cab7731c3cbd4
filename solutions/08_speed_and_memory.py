"""Reference solutions for the exercises of notebook 08 (speed and memory, measured).

Try the exercises first; ``course_lib.exercises`` tells you what is wrong with your
answer. Load these with ``course_lib.exercises.framework.load_solution("08_speed_and_memory")``.
"""

import statistics

import pandas as pd
from torch import nn


def training_state_bytes(model: nn.Module) -> int:
    """Exercise 1: fp32 weights + gradients + AdamW's two moments + its step counters."""
    params = list(model.parameters())  # each shared tensor once
    n = sum(p.numel() for p in params)
    return 4 * n + 4 * n + 2 * 4 * n + 4 * len(params)  # weight, grad, exp_avg, exp_avg_sq, step


def depends_on(quantity: str) -> str:
    """Exercise 2: 'M' (distinct blocks) or 'N' (layers run)."""
    return "N" if quantity in ("activations", "flops_per_token") else "M"


def layer_flops_per_token(d: int, d_ff: int, seq_len: int) -> int:
    """Exercise 3: one layer's forward FLOPs per token, 2 per multiply-add."""
    projections = 4 * 2 * d * d  # Q, K, V and the output projection
    scores = 2 * 2 * seq_len * d  # Q K^T and weights @ V, over all T keys
    ffn = 2 * 2 * d * d_ff  # fc1 and fc2
    return projections + scores + ffn


def paired_ratio(base_times: list[float], other_times: list[float]) -> float:
    """Exercise 4: the median over rounds of base / other."""
    return statistics.median(b / o for b, o in zip(base_times, other_times, strict=True))


def noise_floor(df: pd.DataFrame) -> dict:
    """Exercise 5: max / min tokens/s among the three orders, per dataset and depth."""
    orders = df[df["sharing"].isin(["sequence", "cycle", "cycle_rev"])]
    out = {}
    for (dataset, n), group in orders.groupby(["dataset", "n_layers"]):
        out[(dataset, int(n))] = group["tokens_per_s"].max() / group["tokens_per_s"].min()
    return out
