"""Reference solutions for the exercises of notebook 03 (a whole model).

Load these with ``course_lib.exercises.framework.load_solution("03_model")``.
"""

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def embed(ids: torch.Tensor, tok_emb: nn.Embedding, pos_emb: nn.Embedding) -> torch.Tensor:
    """Exercise 1: token embedding plus the embedding of each position 0..T-1."""
    positions = torch.arange(ids.size(1), device=ids.device)  # (T,)
    return tok_emb(ids) + pos_emb(positions)  # (B, T, d) + (T, d) broadcasts over B


def lm_inputs_targets(seqs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exercise 2: the model reads tokens 0..T-2 and predicts tokens 1..T-1."""
    return seqs[:, :-1], seqs[:, 1:]  # (B, T-1) each


def train_step(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer
) -> float:
    """Exercise 3: one optimisation step on a batch; returns the loss as a float."""
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def save_weights(model: nn.Module, path: str | Path) -> None:
    """Exercise 4: write the state_dict atomically: a temporary file, then os.replace."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path)  # the real name only ever holds a complete file
