"""ALBERT exactly: Hugging Face ``AlbertModel`` weights in a course_lib encoder (notebook 05).

The course builds ALBERT's ideas from scratch: one block shared by every layer and a
factorized embedding (Lan et al. 2020, "ALBERT: A Lite BERT"). This module shows that the
from-scratch model is the same *function* as the library's: ``config_from_hf`` turns an
``AlbertConfig`` into a ``ModelConfig`` (``embed_norm``, ``type_vocab_size``,
``activation="gelu_tanh"``, ``norm_eps``, ``pooler``), and ``from_hf_albert`` copies an
``AlbertModel`` state dict into ``build_model(cfg)`` name by name. tests/test_albert.py
checks the hidden states agree to 1e-5.

Pretrained weights without network: download a checkpoint once elsewhere (a folder with
``config.json`` and ``model.safetensors`` or ``pytorch_model.bin``, e.g. albert-base-v2),
copy the folder next to the course and call ``load_local_albert(folder)``. Neither
function imports ``transformers``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import ModelConfig
from .model import build_model

_ACTIVATIONS = {  # HF hidden_act -> ModelConfig.activation
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu": "gelu",
    "relu": "relu",
}

_EMBED = {  # HF name -> course_lib name
    "embeddings.word_embeddings.weight": "embed.tok_emb.weight",
    "embeddings.position_embeddings.weight": "embed.pos_emb.weight",
    "embeddings.token_type_embeddings.weight": "embed.type_emb.weight",
    "embeddings.LayerNorm.weight": "embed.norm.weight",
    "embeddings.LayerNorm.bias": "embed.norm.bias",
    "encoder.embedding_hidden_mapping_in.weight": "embed.proj.weight",
    "encoder.embedding_hidden_mapping_in.bias": "embed.proj.bias",
    "pooler.weight": "pooler.weight",
    "pooler.bias": "pooler.bias",
}
_LAYER = {  # inside albert_layer_groups.0.albert_layers.0. -> inside stack.layers.0.
    "attention.query": "attn.fn.q_proj",
    "attention.key": "attn.fn.k_proj",
    "attention.value": "attn.fn.v_proj",
    "attention.dense": "attn.fn.out_proj",
    "attention.LayerNorm": "attn.norm",
    "ffn": "ffn.fn.fc1",
    "ffn_output": "ffn.fn.fc2",
    "full_layer_layer_norm": "ffn.norm",
}
_LAYER_KEY = re.compile(r"encoder\.albert_layer_groups\.0\.albert_layers\.0\.(.+)\.(weight|bias)")


def _hf_dict(hf_config: Any) -> dict[str, Any]:
    if isinstance(hf_config, dict):
        return hf_config
    if hasattr(hf_config, "to_dict"):
        return hf_config.to_dict()
    raise ValueError(
        f"hf_config={type(hf_config).__name__} is not allowed: pass an AlbertConfig or its dict"
    )


def config_from_hf(hf_config: Any, pooler: bool = True) -> ModelConfig:
    """The ``ModelConfig`` of an ``AlbertModel`` (an ``AlbertConfig`` or its ``to_dict()``)."""
    c = _hf_dict(hf_config)
    for key, allowed in (("num_hidden_groups", 1), ("inner_group_num", 1)):
        if c.get(key, 1) != allowed:
            raise ValueError(f"{key}={c[key]!r} is not allowed: course_lib maps only {allowed}")
    act = c.get("hidden_act", "gelu_new")
    if act not in _ACTIVATIONS:
        raise ValueError(f"hidden_act={act!r} is not allowed: choose one of {sorted(_ACTIVATIONS)}")
    e, h = c.get("embedding_size", 128), c.get("hidden_size", 4096)
    if e == h:
        raise ValueError(
            f"embedding_size={e!r} is not allowed: it must differ from hidden_size={h} "
            "(course_lib has no E -> H projection when E = H; HF always has one)"
        )
    return ModelConfig(
        vocab_size=c["vocab_size"],
        d_model=h,
        n_heads=c["num_attention_heads"],
        d_ff=c["intermediate_size"],
        n_layers=c["num_hidden_layers"],
        sharing="all",
        max_len=c["max_position_embeddings"],
        task="encode",
        embed_dim=e,
        norm_first=False,
        activation=_ACTIVATIONS[act],
        pad_id=c.get("pad_token_id") or 0,
        embed_norm=True,
        type_vocab_size=c.get("type_vocab_size", 2),
        norm_eps=c.get("layer_norm_eps", 1e-12),
        pooler=pooler,
    )


def _course_name(hf_name: str) -> str | None:
    if hf_name in _EMBED:
        return _EMBED[hf_name]
    m = _LAYER_KEY.fullmatch(hf_name)
    if m and m.group(1) in _LAYER:
        return f"stack.layers.0.{_LAYER[m.group(1)]}.{m.group(2)}"
    return None


def from_hf_albert(state_dict: dict[str, torch.Tensor], config: Any) -> nn.Module:
    """A course_lib encoder (eval mode) holding an ``AlbertModel``'s weights.

    ``state_dict``: ``AlbertModel.state_dict()``, or a pretrained file's (keys may start
    with ``albert.``; heads such as ``predictions.*`` are ignored). ``config``: a
    ``ModelConfig`` (from ``config_from_hf``), an ``AlbertConfig`` or its dict. Every
    course_lib parameter must be filled, else ``ValueError`` names the missing ones.
    """
    cfg = config if isinstance(config, ModelConfig) else config_from_hf(config)
    model = build_model(cfg)
    ours: dict[str, torch.Tensor] = {}
    for name, tensor in state_dict.items():
        target = _course_name(name.removeprefix("albert."))
        if target is not None:
            ours[target] = tensor
    wanted = dict(model.named_parameters())  # shared tensors once: under stack.layers.0
    missing = sorted(set(wanted) - set(ours))
    if missing:
        raise ValueError(f"state_dict is missing weights for {missing[:5]} ({len(missing)} in all)")
    with torch.no_grad():
        for name, p in wanted.items():
            if p.shape != ours[name].shape:
                raise ValueError(
                    f"{name}: shape {tuple(ours[name].shape)} in the state_dict, "
                    f"{tuple(p.shape)} in course_lib; does the config match the weights?"
                )
            p.copy_(ours[name])
    return model.eval()


def load_local_albert(folder: str | Path, pooler: bool = True) -> nn.Module:
    """An ``AlbertModel`` checkpoint from a local folder (no network) as a course_lib encoder."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder / 'config.json'} not found: a checkpoint folder holds it")
    cfg = config_from_hf(json.loads((folder / "config.json").read_text()), pooler)
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        state = load_file(str(folder / "model.safetensors"))
    elif (folder / "pytorch_model.bin").is_file():
        state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    else:
        raise FileNotFoundError(f"{folder}: neither model.safetensors nor pytorch_model.bin found")
    return from_hf_albert(state, cfg)
