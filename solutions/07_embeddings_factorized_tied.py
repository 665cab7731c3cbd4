"""Reference solutions for the exercises of notebook 07 (embeddings: factorized and tied).

Load these with ``course_lib.exercises.framework.load_solution("07_embeddings_factorized_tied")``.
"""

import math
from collections import Counter

import torch
from torch import nn


def embedding_params(vocab_size: int, d_model: int, max_len: int) -> int:
    """Exercise 1: token table V*H plus learned positions max_len*H (no factorization)."""
    return vocab_size * d_model + max_len * d_model


def break_even_vocab(embed_dim: int, d_model: int) -> int:
    """Exercise 2: the smallest V for which V*E + (E*H + H) < V*H (the projection has a bias)."""
    extra = embed_dim * d_model + d_model  # nn.Linear(E, H): weight and bias
    return extra // (d_model - embed_dim) + 1  # V*(H - E) must exceed extra


def tie(model: nn.Module) -> None:
    """Exercise 3: make the LM head use the input embedding's tensor (one tensor, two uses)."""
    model.lm_head.weight = model.embed.tok_emb.weight


def unigram_entropy(text: str) -> float:
    """Exercise 4: -sum p(c) ln p(c) over the characters of ``text``, in nats."""
    counts = Counter(text)
    n = len(text)
    return -sum(k / n * math.log(k / n) for k in counts.values())


@torch.no_grad()
def greedy(model: nn.Module, ids: list[int], n_new: int) -> list[int]:
    """Exercise 5: append the most likely next token ``n_new`` times, the context cropped
    to the model's ``max_len`` positions."""
    model.eval()
    device = next(model.parameters()).device
    ids = list(ids)
    for _ in range(n_new):
        context = torch.tensor([ids[-model.cfg.max_len :]], device=device)  # (1, T <= max_len)
        ids.append(int(model(context)[0, -1].argmax()))  # the last position's guess
    return ids
