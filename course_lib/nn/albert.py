"""ALBERT exactly: Hugging Face ``AlbertModel`` weights in a course_lib encoder (notebook 05).

The course builds ALBERT's ideas from scratch: one block shared by every layer and a
factorized embedding (Lan et al. 2020, "ALBERT: A Lite BERT"). This module shows that the
from-scratch model is the same *function* as the library's: ``config_from_hf`` turns an
``AlbertConfig`` into a ``ModelConfig`` (``embed_norm``, ``type_vocab_size``,
``activation="gelu_tanh"``, ``norm_eps``, ``pooler``), and ``from_hf_albert`` copies an
``AlbertModel`` state dict into ``build_model(cfg)`` name by name. tests/nn/test_albert.py
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

from course_lib.config import ModelConfig
from course_lib.i18n import _
from course_lib.nn.model import build_model

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
        _("hf_config={kind} is not allowed: pass an AlbertConfig or its dict").format(
            kind=type(hf_config).__name__
        )
    )


_REQUIRED = ("vocab_size", "num_attention_heads", "intermediate_size", "num_hidden_layers",
             "max_position_embeddings")  # fmt: skip
_MAPPED = set(_REQUIRED) | {
    "hidden_size", "embedding_size", "hidden_act", "hidden_dropout_prob", "pad_token_id",
    "attention_probs_dropout_prob", "type_vocab_size", "layer_norm_eps", "num_hidden_groups",
    "inner_group_num",
}  # fmt: skip
_FIXED = {  # fields AlbertModel reads whose other values course_lib does not build
    "position_embedding_type": "absolute", "is_decoder": False, "add_cross_attention": False,
    "is_encoder_decoder": False, "pruned_heads": {}, "model_type": "albert",
}  # fmt: skip
_NO_EFFECT = {  # fields that do not change AlbertModel's hidden states
    # bookkeeping and output switches of every transformers config
    "transformers_version", "architectures", "_name_or_path", "output_hidden_states",
    "output_attentions", "return_dict", "use_return_dict", "torchscript", "dtype", "torch_dtype",
    "use_bfloat16", "tf_legacy_loss", "chunk_size_feed_forward", "_attn_implementation",
    "_attn_implementation_autoset", "attn_implementation", "gradient_checkpointing",
    # heads, labels, tokens and generation: not part of the encoder
    "id2label", "label2id", "problem_type", "finetuning_task", "num_labels",
    "classifier_dropout_prob", "tie_word_embeddings", "initializer_range", "tokenizer_class",
    "prefix", "bos_token_id", "eos_token_id", "sep_token_id", "decoder_start_token_id",
    "task_specific_params", "cross_attention_hidden_size", "tie_encoder_decoder",
    "max_length", "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups",
    "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
    "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
    "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
    "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty",
    "suppress_tokens", "begin_suppress_tokens",
    # google-research's ALBERT options that HF's AlbertModel never reads (albert-base-v2)
    "down_scale_factor", "gap_size", "net_structure_type", "num_memory_blocks",
}  # fmt: skip


def _check_fields(c: dict[str, Any]) -> None:
    """Every field maps to a course option, is known to change nothing, or is refused."""
    missing = [k for k in _REQUIRED if k not in c]
    if missing:
        raise ValueError(
            _(
                "hf_config lacks {missing} (model_type={model_type}): it is not an "
                "ALBERT config; course_lib loads AlbertModel checkpoints only"
            ).format(missing=missing, model_type=repr(c.get("model_type")))
        )
    for key, allowed in _FIXED.items():
        if key in c and c[key] != allowed and not (allowed == {} and not c[key]):
            raise ValueError(
                _("{key}={value} is not allowed: course_lib builds {allowed} only").format(
                    key=key, value=repr(c[key]), allowed=repr(allowed)
                )
            )
    unknown = sorted(set(c) - _MAPPED - set(_FIXED) - _NO_EFFECT)
    if unknown:
        raise ValueError(
            _(
                "hf_config field(s) {unknown} are not allowed: course_lib does not know what they "
                "change in the model, so it will not ignore them"
            ).format(unknown=unknown)
        )
    for key, allowed in (("num_hidden_groups", 1), ("inner_group_num", 1)):
        if c.get(key, 1) != allowed:
            raise ValueError(
                _("{key}={value} is not allowed: course_lib maps only {allowed}").format(
                    key=key, value=repr(c[key]), allowed=allowed
                )
            )


def _dropout(c: dict[str, Any]) -> float:
    hidden, attn = c.get("hidden_dropout_prob", 0.0), c.get("attention_probs_dropout_prob", 0.0)
    if hidden != attn:
        raise ValueError(
            _(
                "hidden_dropout_prob={hidden} with attention_probs_dropout_prob={attn} is not "
                "allowed: course_lib has one dropout for both; set them equal"
            ).format(hidden=repr(hidden), attn=repr(attn))
        )
    return float(hidden)


def config_from_hf(hf_config: Any, pooler: bool = True) -> ModelConfig:
    """The ``ModelConfig`` of an ``AlbertModel`` (an ``AlbertConfig`` or its ``to_dict()``).

    Every field maps to a ``ModelConfig`` option, is one that leaves the hidden states
    unchanged (output switches, heads, tokens, generation), or is refused by name."""
    c = _hf_dict(hf_config)
    _check_fields(c)
    act = c.get("hidden_act", "gelu_new")
    if act not in _ACTIVATIONS:
        raise ValueError(
            _("hidden_act={act} is not allowed: choose one of {values}").format(
                act=repr(act), values=sorted(_ACTIVATIONS)
            )
        )
    e, h = c.get("embedding_size", 128), c.get("hidden_size", 4096)
    if e == h:
        raise ValueError(
            _(
                "embedding_size={e} is not allowed: it must differ from hidden_size={h} "
                "(course_lib has no E -> H projection when E = H; HF always has one)"
            ).format(e=repr(e), h=h)
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
        dropout=_dropout(c),
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


_HEADS = re.compile(
    r"(predictions|sop_classifier|classifier)\..+|embeddings\.(position_ids|token_type_ids)"
)
_OPTIONAL = ("pooler.", "embed.type_emb.")  # parts a config may leave out (pooler=False, ...)


def _dtype(ours: dict[str, torch.Tensor]) -> torch.dtype:
    """The one floating-point dtype of the weights; integer or mixed dtypes are refused."""
    dtypes = {t.dtype for t in ours.values()}
    bad = sorted(n for n, t in ours.items() if not t.is_floating_point())
    if bad:
        raise ValueError(
            _("state_dict holds {dtype} weights ({name}): weights must be floating point").format(
                dtype=ours[bad[0]].dtype, name=bad[0]
            )
        )
    if len(dtypes) > 1:
        raise ValueError(
            _(
                "state_dict mixes dtypes {dtypes}: convert it to one "
                "(e.g. {{k: v.float() for k, v in state_dict.items()}})"
            ).format(dtypes=sorted(str(d) for d in dtypes))
        )
    return dtypes.pop()


def from_hf_albert(state_dict: dict[str, torch.Tensor], config: Any) -> nn.Module:
    """A course_lib encoder (eval mode) holding an ``AlbertModel``'s weights.

    ``state_dict``: ``AlbertModel.state_dict()``, or a pretrained file's (keys may start
    with ``albert.``; the heads ``predictions.*``, ``sop_classifier.*`` and ``classifier.*``
    are left out). ``config``: a ``ModelConfig`` (from ``config_from_hf``), an
    ``AlbertConfig`` or its dict. Every course_lib parameter must be filled, and every
    other weight used (a second layer group is an error, not a drop), else ``ValueError``
    names them; the pooler and token types may be left out by the config. The model
    keeps the weights' dtype (a float64 state dict gives a float64 model).
    """
    cfg = config if isinstance(config, ModelConfig) else config_from_hf(config)
    ours: dict[str, torch.Tensor] = {}
    unused = []
    for name, tensor in state_dict.items():
        hf_name = name.removeprefix("albert.")
        target = _course_name(hf_name)
        if target is not None:
            ours[target] = tensor
        elif not _HEADS.fullmatch(hf_name):
            unused.append(name)
    if unused:
        raise ValueError(
            _(
                "state_dict holds {n} weights course_lib would not use, e.g. "
                "{names} (a second layer group, inner_group_num > 1, or not ALBERT): "
                "refusing to drop them"
            ).format(n=len(unused), names=sorted(unused)[:3])
        )
    dtype = _dtype(ours) if ours else torch.float32
    with torch.device("meta"):  # names only, nothing allocated
        wanted_names = set(dict(build_model(cfg).named_parameters()))
    extra = sorted(n for n in set(ours) - wanted_names if not n.startswith(_OPTIONAL))
    if extra:
        raise ValueError(
            _("state_dict weights {names} have no place in the ModelConfig").format(names=extra[:3])
        )
    model = build_model(cfg).to(dtype)
    wanted = dict(model.named_parameters())  # shared tensors once: under stack.layers.0
    missing = sorted(set(wanted) - set(ours))
    if missing:
        raise ValueError(
            _("state_dict is missing weights for {names} ({n} in all)").format(
                names=missing[:5], n=len(missing)
            )
        )
    with torch.no_grad():
        for name, p in wanted.items():
            if p.shape != ours[name].shape:
                raise ValueError(
                    _(
                        "{name}: shape {shape} in the state_dict, "
                        "{want} in course_lib; does the config match the weights?"
                    ).format(name=name, shape=tuple(ours[name].shape), want=tuple(p.shape))
                )
            p.copy_(ours[name])
    return model.eval()


def load_local_albert(folder: str | Path, pooler: bool = True) -> nn.Module:
    """An ``AlbertModel`` checkpoint from a local folder (no network) as a course_lib encoder."""
    folder = Path(folder).expanduser()
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            _("{path} not found: a checkpoint folder holds it").format(path=folder / "config.json")
        )
    try:
        hf_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(
            _("{path} is not JSON ({err})").format(path=folder / "config.json", err=err)
        ) from None
    if not isinstance(hf_config, dict):
        raise ValueError(
            _("{path} holds a {kind}, not an object").format(
                path=folder / "config.json", kind=type(hf_config).__name__
            )
        )
    try:
        cfg = config_from_hf(hf_config, pooler)
    except ValueError as err:
        raise ValueError(f"{folder / 'config.json'}: {err}") from None
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        file, read = folder / "model.safetensors", lambda f: load_file(str(f))
    elif (folder / "pytorch_model.bin").is_file():
        file = folder / "pytorch_model.bin"
        read = lambda f: torch.load(f, map_location="cpu", weights_only=True)  # noqa: E731
    else:
        raise FileNotFoundError(
            _("{folder}: neither model.safetensors nor pytorch_model.bin found").format(
                folder=folder
            )
        )
    try:
        state = read(file)
    except Exception as err:  # truncated, corrupt, or an unsafe pickle
        first = str(err).splitlines()[0][:120] if str(err) else ""
        raise ValueError(
            _("{file} is corrupt or not a weights file ({kind}: {first})").format(
                file=file, kind=type(err).__name__, first=first
            )
        ) from None
    if not isinstance(state, dict):
        raise ValueError(
            _("{file} holds a {kind}, not a state dict").format(
                file=file, kind=type(state).__name__
            )
        )
    return from_hf_albert(state, cfg)
