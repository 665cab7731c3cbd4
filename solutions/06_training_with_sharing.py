"""Reference solutions for the exercises of notebook 06 (training with sharing).

Load these with ``course_lib.exercises.framework.load_solution("06_training_with_sharing")``.
"""

import math

import pandas as pd
import torch
from torch import nn

BLOCK_STRATEGIES = ("sequence", "cycle", "cycle_rev")


def majority_baseline(train_labels: torch.Tensor, test_labels: torch.Tensor) -> float:
    """Exercise 1: test accuracy of always predicting the most frequent training label."""
    majority = torch.bincount(train_labels).argmax()  # decided without looking at the test set
    return (test_labels == majority).float().mean().item()


def sharing_cost(results: pd.DataFrame) -> pd.Series:
    """Exercise 2: each plan's test accuracy minus the unshared plan's, in points."""
    none = results.loc[results["sharing"] == "none", "accuracy"].iloc[0]
    return pd.Series(100 * (results["accuracy"] - none).to_numpy(), index=results["name"])


def within_noise(results: pd.DataFrame, n_test: int) -> list[str]:
    """Exercise 3: plans within one standard error of the best test accuracy."""
    best = results["accuracy"].max()
    se = math.sqrt(best * (1 - best) / n_test)  # of an accuracy measured on n_test examples
    return list(results.loc[results["accuracy"] >= best - se, "name"])


def global_grad_norm(model: nn.Module) -> float:
    """Exercise 4: the norm clipping looks at, sqrt of the sum of squared gradients,
    each (shared) tensor once."""
    squares = [p.grad.pow(2).sum() for p in model.parameters() if p.grad is not None]
    return math.sqrt(sum(s.item() for s in squares))


def reinit_embeddings(model: nn.Module, std: float) -> None:
    """Exercise 5: token and position embeddings from N(0, std), nothing else touched."""
    with torch.no_grad():
        nn.init.normal_(model.embed.tok_emb.weight, mean=0.0, std=std)
        nn.init.normal_(model.embed.pos_emb.weight, mean=0.0, std=std)


def rank_correlation(x: pd.Series, y: pd.Series) -> float:
    """Exercise 6: Spearman's rank correlation: Pearson's correlation of the ranks."""
    return float(x.rank().corr(y.rank()))


def plans_for(n_blocks: int) -> dict[str, dict]:
    """Exercise 7: the seven plans as ``ModelConfig`` changes, block plans with M = n_blocks."""
    plans = {s: {"sharing": s} for s in ("none", "all", "attention", "ffn")}
    for s in BLOCK_STRATEGIES:
        plans[f"{s} M={n_blocks}"] = {"sharing": s, "n_blocks": n_blocks}
    return plans
