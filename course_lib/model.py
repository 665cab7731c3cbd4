"""Whole models: embeddings, a layer stack built from a sharing plan, and a head.

``build_model(cfg)`` returns a sequence classifier (``task="classify"``) or a causal
language model (``task="lm"``). Notebook 03 builds one by hand and checks it equals this;
notebooks 04-10 import it.

Sharing happens in exactly one place, ``LayerStack.__init__``: one sublayer object per
weight-set id, then the same object placed at every layer that uses that id.
Embedding factorization (E < H) and tying follow ALBERT (Lan et al. 2020) and
Press & Wolf (2017).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .layers import Block, attention_sublayer, causal_mask, ffn_sublayer
from .sharing import SharingPlan


class Embeddings(nn.Module):
    """Token + learned position embeddings; with E < H a projection E -> H (ALBERT)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        e, h = cfg.d_embed, cfg.d_model
        self.tok_emb = nn.Embedding(cfg.vocab_size, e)  # V*E
        self.proj = nn.Linear(e, h) if e != h else None  # E*H + H when factorized
        self.pos_emb = nn.Embedding(cfg.max_len, h)  # max_len*H
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tok_emb(ids)  # (B, T, E)
        if self.proj is not None:
            x = self.proj(x)  # (B, T, H)
        pos = torch.arange(ids.size(1), device=ids.device)
        return self.drop(x + self.pos_emb(pos))


class LayerStack(nn.Module):
    """N blocks whose attention and FFN sublayers are chosen by a ``SharingPlan``."""

    def __init__(self, cfg: ModelConfig, plan: SharingPlan | None = None):
        super().__init__()
        self.plan = plan if plan is not None else SharingPlan.from_config(cfg)
        d, p = cfg.d_model, cfg.dropout
        attns = {
            k: attention_sublayer(d, cfg.n_heads, cfg.norm_first, p, cfg.attn_impl)
            for k in sorted(set(self.plan.attn_ids))
        }
        ffns = {
            k: ffn_sublayer(d, cfg.d_ff, cfg.norm_first, p, cfg.activation)
            for k in sorted(set(self.plan.ffn_ids))
        }
        blocks: dict[tuple[int, int], Block] = {}  # same (attn, ffn) pair -> same Block
        layers = []
        for a, f in zip(self.plan.attn_ids, self.plan.ffn_ids, strict=True):
            if (a, f) not in blocks:
                blocks[(a, f)] = Block(attns[a], ffns[f])
            layers.append(blocks[(a, f)])
        self.layers = nn.ModuleList(layers)
        self.final_norm = nn.LayerNorm(d) if cfg.norm_first else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, mask)
        return self.final_norm(x)


class TransformerClassifier(nn.Module):
    """Encoder (no causal mask) -> mean over non-padding tokens -> linear classifier."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = Embeddings(cfg)
        self.stack = LayerStack(cfg)
        self.head = nn.Linear(cfg.d_model, cfg.n_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        keep = ids != self.cfg.pad_id  # (B, T)
        mask = keep[:, None, None, :]  # (B, 1, 1, T): every query may see the real keys
        x = self.stack(self.embed(ids), mask)  # (B, T, H)
        w = keep.unsqueeze(-1).to(x.dtype)
        pooled = (x * w).sum(1) / w.sum(1).clamp(min=1.0)  # (B, H)
        return self.head(pooled)  # (B, n_classes)


class TransformerLM(nn.Module):
    """Decoder-only causal LM; with ``tie_embeddings`` the output reuses ``tok_emb.weight``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = Embeddings(cfg)
        self.stack = LayerStack(cfg)
        e, h = cfg.d_embed, cfg.d_model
        self.out_proj = nn.Linear(h, e) if e != h else None  # back to E before the vocab
        self.lm_head = nn.Linear(e, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed.tok_emb.weight  # one tensor, two uses

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = causal_mask(ids.size(1), ids.device)  # (T, T)
        x = self.stack(self.embed(ids), mask)  # (B, T, H)
        if self.out_proj is not None:
            x = self.out_proj(x)  # (B, T, E)
        return self.lm_head(x)  # (B, T, V)


def init_weights(model: nn.Module, scheme: str = "normal") -> None:
    """Initialise every Linear and Embedding: N(0, 0.02) (BERT), Xavier or He; biases 0."""
    for m in model.modules():
        if isinstance(m, nn.Linear | nn.Embedding):
            if scheme == "xavier":
                nn.init.xavier_uniform_(m.weight)
            elif scheme == "he":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)


def build_model(cfg: ModelConfig) -> nn.Module:
    """The model ``cfg`` describes, with weights initialised by ``cfg.init``."""
    model = TransformerClassifier(cfg) if cfg.task == "classify" else TransformerLM(cfg)
    init_weights(model, cfg.init)
    return model
