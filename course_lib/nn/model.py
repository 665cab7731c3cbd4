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

import os

import torch
from torch import nn

from course_lib.config import ModelConfig
from course_lib.nn.checks import check_model_config, check_token_ids
from course_lib.nn.counts import parameter_breakdown
from course_lib.nn.layers import Block, FeedForward, MultiHeadSelfAttention, Sublayer, causal_mask
from course_lib.nn.sharing import SharingPlan

_SIZE_FIELDS = {  # what to make smaller, for the part that holds the most parameters
    "embeddings": "vocab_size, embed_dim or max_len",
    "attention": "d_model or the number of distinct layers (n_layers, sharing)",
    "ffn_and_norm": "d_ff, d_model or the number of distinct layers (n_layers, sharing)",
    "head": "vocab_size or n_classes",
}


class Embeddings(nn.Module):
    """Token + learned position embeddings; with E < H a projection E -> H (ALBERT).

    The course's layout is proj(tok) + pos, positions H wide. With ``cfg.embed_norm`` it is
    ALBERT's (and BERT's): proj(LayerNorm(tok + pos + type)), positions and types E wide.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        e, h = cfg.d_embed, cfg.d_model
        w = e if cfg.embed_norm else h  # width at which positions (and types) are added
        self.tok_emb = nn.Embedding(cfg.vocab_size, e)  # V*E
        self.proj = nn.Linear(e, h) if e != h else None  # E*H + H when factorized
        self.pos_emb = nn.Embedding(cfg.max_len, w)  # max_len*H (max_len*E with embed_norm)
        self.type_emb = nn.Embedding(cfg.type_vocab_size, w) if cfg.type_vocab_size else None
        self.norm = nn.LayerNorm(e, eps=cfg.norm_eps) if cfg.embed_norm else None
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, ids: torch.Tensor, type_ids: torch.Tensor | None = None) -> torch.Tensor:
        x = self.tok_emb(ids)  # (B, T, E)
        pos = self.pos_emb(torch.arange(ids.size(1), device=ids.device))
        if self.type_emb is not None:  # segment A/B; all zeros when not given (as HF)
            pos = pos + self.type_emb(torch.zeros_like(ids) if type_ids is None else type_ids)
        if self.norm is not None:  # ALBERT: LayerNorm(tok + pos + type), then E -> H
            x = self.drop(self.norm(x + pos))
            return self.proj(x) if self.proj is not None else x
        if self.proj is not None:
            x = self.proj(x)  # (B, T, H)
        return self.drop(x + pos)


class LayerStack(nn.Module):
    """N blocks whose attention and FFN sublayers are chosen by a ``SharingPlan``."""

    def __init__(self, cfg: ModelConfig, plan: SharingPlan | None = None):
        super().__init__()
        self.plan = plan if plan is not None else SharingPlan.from_config(cfg)
        d, p = cfg.d_model, cfg.dropout
        eps = cfg.norm_eps

        def sublayer(fn: nn.Module) -> Sublayer:
            return Sublayer(d, fn, cfg.norm_first, p, eps)

        attns = {
            k: sublayer(MultiHeadSelfAttention(d, cfg.n_heads, p, cfg.attn_impl))
            for k in sorted(set(self.plan.attn_ids))
        }
        ffns = {
            k: sublayer(FeedForward(d, cfg.d_ff, p, cfg.activation))
            for k in sorted(set(self.plan.ffn_ids))
        }
        blocks: dict[tuple[int, int], Block] = {}  # same (attn, ffn) pair -> same Block
        layers = []
        for a, f in zip(self.plan.attn_ids, self.plan.ffn_ids, strict=True):
            if (a, f) not in blocks:
                blocks[(a, f)] = Block(attns[a], ffns[f])
            layers.append(blocks[(a, f)])
        self.layers = nn.ModuleList(layers)
        self.final_norm = nn.LayerNorm(d, eps=eps) if cfg.norm_first else nn.Identity()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, mask)
        return self.final_norm(x)


def _key_mask(ids: torch.Tensor, pad_id: int, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """(B, T) True for the real tokens: ``attention_mask`` when given, else ids != pad_id."""
    if attention_mask is None:
        return ids != pad_id
    if attention_mask.shape != ids.shape:
        raise ValueError(
            f"attention_mask of shape {tuple(attention_mask.shape)} is not allowed: it must "
            f"have the shape of ids, {tuple(ids.shape)} (1 = real token, 0 = padding)"
        )
    return attention_mask.to(ids.device) != 0


class TransformerEncoder(nn.Module):
    """Encoder (no causal mask, padding masked): ids -> hidden states (B, T, H), no head.

    ``task="encode"``; with ``cfg.pooler``, ``pool(hidden)`` is tanh(Linear(first token)),
    HF's ``pooler_output``. The same function as ``transformers.AlbertModel`` when the
    config says so (``course_lib.nn.albert``).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = Embeddings(cfg)
        self.stack = LayerStack(cfg)
        self.pooler = nn.Linear(cfg.d_model, cfg.d_model) if cfg.pooler else None

    def forward(
        self,
        ids: torch.Tensor,
        type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``attention_mask`` (B, T), 1 for a real token and 0 for padding, as HF takes it;
        without one, every id equal to ``pad_id`` is padding."""
        check_token_ids(ids, self.cfg.vocab_size, self.cfg.max_len)
        real = _key_mask(ids, self.cfg.pad_id, attention_mask)  # (B, T)
        hidden = self.stack(self.embed(ids, type_ids), real[:, None, None, :])  # (B, T, H)
        return self.read_out(hidden, real)

    def read_out(self, hidden: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """What ``forward`` returns from the last hidden states (B, T, H) and the real-token
        mask (B, T): the encoder returns the states; a classifier reads its class scores."""
        return hidden

    def pool(self, hidden: torch.Tensor) -> torch.Tensor:
        """tanh(W h_0 + b): the first token's state through the pooler, (B, H)."""
        if self.pooler is None:
            raise ValueError("pool() needs pooler=True in the ModelConfig")
        return torch.tanh(self.pooler(hidden[:, 0]))


class TransformerClassifier(TransformerEncoder):
    """Encoder -> mean over non-padding tokens (or the pooler) -> linear classifier."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.head = nn.Linear(cfg.d_model, cfg.n_classes)

    def read_out(self, hidden: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if self.pooler is not None:
            return self.head(self.pool(hidden))  # BERT/ALBERT: the first token, pooled
        w = real.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * w).sum(1) / w.sum(1).clamp(min=1.0)  # (B, H)
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
        check_token_ids(ids, self.cfg.vocab_size, self.cfg.max_len)
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


def available_memory_bytes() -> int | None:
    """Memory the OS can still give this process (Linux MemAvailable), or None."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(cfg: ModelConfig) -> None:
    """Before any allocation: the weights ``cfg`` asks for must fit in the memory there is
    (a config claiming vocab_size=10**10 would otherwise try to allocate 640 GB)."""
    if torch.get_default_device().type != "cpu":  # the meta device (shapes only) or a GPU
        return
    parts = parameter_breakdown(cfg)
    needs = sum(parts.values()) * torch.get_default_dtype().itemsize
    free = available_memory_bytes()
    if free is not None and needs > free:
        biggest = max(parts, key=parts.get)
        raise ValueError(
            f"ModelConfig(vocab_size={cfg.vocab_size}, d_model={cfg.d_model}, d_ff={cfg.d_ff}, "
            f"n_layers={cfg.n_layers}, ...) needs about {needs / 1e9:.1f} GB for its weights, "
            f"{free / 1e9:.1f} GB available: make {_SIZE_FIELDS[biggest]} smaller (most "
            f"parameters are in the {biggest})"
        )


def build_model(cfg: ModelConfig) -> nn.Module:
    """The model ``cfg`` describes, with weights initialised by ``cfg.init``; a config
    whose weights cannot fit in memory is refused before anything is allocated."""
    cfg = check_model_config(cfg)
    check_memory(cfg)
    kinds = {"classify": TransformerClassifier, "lm": TransformerLM, "encode": TransformerEncoder}
    model = kinds[cfg.task](cfg)
    init_weights(model, cfg.init)
    return model
