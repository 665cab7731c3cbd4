"""Checks a model makes of its own inputs, so that a bad input stops with a message naming
the argument and what is allowed (notebooks 03 and 06-10).

- ``check_model_config``: a ``ModelConfig`` where one is expected, not a dict of its fields.
- ``check_token_ids``: what a model's forward pass checks (cheap) before embedding ids.
- ``check_trainable``: a model ``train_model`` can train (a head for the task, not float16).
- ``check_head_split``: the ``d_model`` of a looped, recursive or recurrent-depth config.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from course_lib.config import TRAIN_TASKS, ModelConfig, reject
from course_lib.i18n import _


def check_model_config(cfg: Any, field: str = "cfg") -> ModelConfig:
    """``cfg`` itself when it is a ModelConfig; otherwise a ValueError saying what to pass."""
    if isinstance(cfg, ModelConfig):
        return cfg
    hint = (
        _("build one with ModelConfig(**d)") if isinstance(cfg, dict) else _("pass a ModelConfig")
    )
    raise ValueError(
        _("{field}={kind} is not allowed: {hint}").format(
            field=field, kind=type(cfg).__name__, hint=hint
        )
    )


def check_head_split(d_model: int, n_heads: int) -> None:
    """A ValueError naming ``d_model`` unless it is even (sinusoidal positions come in
    sin/cos pairs) and splits into ``n_heads`` equal heads."""
    if d_model % n_heads or d_model % 2:
        reject("d_model", d_model,
               _("it must be even and divisible by n_heads={n_heads}").format(n_heads=n_heads))  # fmt: skip


def check_token_ids(ids: torch.Tensor, vocab_size: int, max_len: int) -> None:
    """Token ids a model can embed: (B, T) integers, T <= max_len, each in [0, vocab_size).

    The value check reads the tensor, so it runs on the CPU only (on a GPU it would wait
    for the device every forward pass); ``train_model`` checks whole datasets up front.
    """
    if ids.dim() != 2 or ids.is_floating_point() or ids.dtype == torch.bool:
        raise ValueError(
            _(
                "ids of shape {shape} and dtype {dtype} are not allowed: a model takes (batch, T) integer token ids"
            ).format(shape=tuple(ids.shape), dtype=ids.dtype)
        )
    if ids.dtype not in (torch.long, torch.int32):
        raise ValueError(
            _(
                "ids of dtype {dtype} are not allowed: token ids must be torch.long (convert with ids.long())"
            ).format(dtype=ids.dtype)
        )
    if ids.size(1) > max_len:
        raise ValueError(
            _(
                "ids of length T={value} are not allowed: at most max_len={max_len} tokens (cut the input or build the model with a larger max_len)"
            ).format(value=ids.size(1), max_len=max_len)
        )
    if ids.device.type == "cpu" and ids.numel() and not torch.compiler.is_compiling():
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= vocab_size:
            raise ValueError(
                _(
                    "token id {value} is not allowed: ids must be in [0, {last}] (vocab_size={vocab_size}); was the tokenizer fitted with the same vocab_size?"
                ).format(value=lo if lo < 0 else hi, last=vocab_size - 1, vocab_size=vocab_size)
            )


def check_trainable(model: nn.Module, device: torch.device, task: str) -> None:
    """Weights and a model ``train_model`` can train: float32 (or bfloat16/float64), not
    float16; a model with a head for ``task`` (not an encoder-only ``task="encode"``)."""
    cfg = getattr(model, "cfg", None)
    own_task = getattr(cfg, "task", None)
    if own_task == "encode":
        raise ValueError(
            _(
                "model is an encoder-only model (cfg.task='encode', hidden states, no head): "
                "train_model needs a head; build it with task='classify' or task='lm'"
            )
        )
    if own_task in TRAIN_TASKS and own_task != task:
        raise ValueError(
            _(
                "task={task!r} is not allowed for this model: it was built with task={own_task!r}; pass task={own_task!r}"
            ).format(task=task, own_task=own_task)
        )
    params = list(model.parameters())
    if not any(p.requires_grad for p in params):
        raise ValueError(
            _(
                "model has no trainable parameters ({n} tensors, all requires_grad=False): unfreeze some (p.requires_grad_(True)) before train_model"
            ).format(n=len(params))
        )
    if any(p.is_meta for p in params):
        raise ValueError(
            _(
                "model weights are on the meta device (shapes only, no values): build it without "
                "torch.device('meta'), or load its weights first"
            )
        )
    half = sorted({n for n, p in model.named_parameters() if p.dtype == torch.float16})
    if half:
        raise ValueError(
            f"model weights are torch.float16 (e.g. {half[0]}): a dtype that cannot be trained "
            f"on {device.type} (float16 overflows without loss scaling, at any lr); call "
            "model.float() first"
            + (" (amp=True already computes in bfloat16 on CUDA)" if device.type == "cuda" else "")
        )
