"""Counting parameters, sharing-aware (notebooks 02-08).

``count_parameters`` counts each tensor once, however many layers use it: that is what
sharing saves. ``count_parameters_per_use`` counts a tensor once per place it is used:
that is what the computation touches. Never count by subtraction (it hides copies
that are not ties, LLMs-from-scratch issue #822); ask the tensors themselves.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.config import ModelConfig
from course_lib.nn.layers import attention_parameter_count, ffn_parameter_count
from course_lib.nn.sharing import SharingPlan


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Parameters of ``model``, each shared tensor counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_parameters_per_use(model: nn.Module, trainable_only: bool = True) -> int:
    """Parameters counted once per place they are used (every alias in the module tree)."""
    return sum(
        p.numel()
        for _, p in model.named_parameters(remove_duplicate=False)
        if p.requires_grad or not trainable_only
    )


def parameter_bytes(model: nn.Module) -> int:
    """Bytes of parameter storage, each shared tensor once."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def shares_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    """True when two tensors are the same memory (a shared weight), not equal copies."""
    return a.data_ptr() == b.data_ptr() and a.shape == b.shape


def shared_groups(model: nn.Module) -> list[list[str]]:
    """Names that alias one tensor, for every tensor used under more than one name."""
    by_id: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        by_id.setdefault(id(p), []).append(name)
    return [names for names in by_id.values() if len(names) > 1]


def formula_parameter_count(cfg: ModelConfig) -> int:
    """The exact parameter count of ``build_model(cfg)``, from the formulas alone."""
    return sum(parameter_breakdown(cfg).values())


def parameter_breakdown(cfg: ModelConfig) -> dict[str, int]:
    """Where the parameters are: embeddings, attention, FFN, head (unique counts)."""
    v, e, h, ff = cfg.vocab_size, cfg.d_embed, cfg.d_model, cfg.d_ff
    plan = SharingPlan.from_config(cfg)
    w = e if cfg.embed_norm else h  # positions and token types: E wide in ALBERT's layout
    emb = v * e + (cfg.max_len + cfg.type_vocab_size) * w  # tokens, positions, types
    emb += 2 * e if cfg.embed_norm else 0  # the embedding LayerNorm
    if e != h:
        emb += e * h + h  # factorization projection E -> H
    attn = plan.n_attn * attention_parameter_count(h)
    ffn = plan.n_ffn * ffn_parameter_count(h, ff)
    if cfg.norm_first:
        ffn += 2 * h  # final LayerNorm of a pre-LN stack
    pooler = h * h + h if cfg.pooler else 0  # Linear(H, H) on the first token
    if cfg.task == "classify":
        head = h * cfg.n_classes + cfg.n_classes + pooler
    elif cfg.task == "encode":
        head = pooler
    else:
        head = h * e + e if e != h else 0  # projection H -> E before the vocabulary
        if not cfg.tie_embeddings:
            head += v * e  # an output matrix of its own
    return {"embeddings": emb, "attention": attn, "ffn_and_norm": ffn, "head": head}
