"""Checks that run before any training, so that a bad input stops with a message naming
the argument and what is allowed instead of a deep traceback or, worse, a wrong number
(every notebook that trains: 03, 06-10, and every sweep).

- ``dataset_tensors``: the (inputs, targets) of a dataset, refusing empty, ragged and
  tuple datasets, non-finite inputs (a NaN pixel), token ids outside the vocabulary,
  sequences longer than ``max_len`` and labels outside ``0..n_classes-1``.
- ``check_output_path``: a file about to be written can be written (not a folder, not
  under a file, not in ``/proc``, a name the file system accepts, room on the disk),
  checked before the work whose result it will hold.
- ``check_model_config``: a ``ModelConfig`` where one is expected, not a dict of its fields.
- ``check_token_ids``: what a model's forward pass checks (cheap) before embedding ids.
- ``check_trainable``: a model ``train_model`` can train (a head for the task, not float16).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import ModelConfig

IGNORE_INDEX = -100  # cross_entropy's default: a target position that does not count


def check_model_config(cfg: Any, field: str = "cfg") -> ModelConfig:
    """``cfg`` itself when it is a ModelConfig; otherwise a ValueError saying what to pass."""
    if isinstance(cfg, ModelConfig):
        return cfg
    hint = "build one with ModelConfig(**d)" if isinstance(cfg, dict) else "pass a ModelConfig"
    raise ValueError(f"{field}={type(cfg).__name__} is not allowed: {hint}")


def check_token_ids(ids: torch.Tensor, vocab_size: int, max_len: int) -> None:
    """Token ids a model can embed: (B, T) integers, T <= max_len, each in [0, vocab_size).

    The value check reads the tensor, so it runs on the CPU only (on a GPU it would wait
    for the device every forward pass); ``train_model`` checks whole datasets up front.
    """
    if ids.dim() != 2 or ids.is_floating_point() or ids.dtype == torch.bool:
        raise ValueError(
            f"ids of shape {tuple(ids.shape)} and dtype {ids.dtype} are not allowed: "
            "a model takes (batch, T) integer token ids"
        )
    if ids.dtype not in (torch.long, torch.int32):
        raise ValueError(
            f"ids of dtype {ids.dtype} are not allowed: token ids must be torch.long "
            "(convert with ids.long())"
        )
    if ids.size(1) > max_len:
        raise ValueError(
            f"ids of length T={ids.size(1)} are not allowed: at most max_len={max_len} "
            "tokens (cut the input or build the model with a larger max_len)"
        )
    if ids.device.type == "cpu" and ids.numel() and not torch.compiler.is_compiling():
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= vocab_size:
            raise ValueError(
                f"token id {lo if lo < 0 else hi} is not allowed: ids must be in "
                f"[0, {vocab_size - 1}] (vocab_size={vocab_size}); was the tokenizer fitted "
                "with the same vocab_size?"
            )


def _pairs(ds: Any, field: str) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(ds, tuple | list) and len(ds) == 2 and all(torch.is_tensor(t) for t in ds):
        raise ValueError(
            f"{field}={type(ds).__name__} is not allowed: wrap the two tensors as "
            "torch.utils.data.TensorDataset(inputs, targets)"
        )
    if not hasattr(ds, "__len__") or not hasattr(ds, "__getitem__"):
        raise ValueError(f"{field}={type(ds).__name__} is not allowed: pass a Dataset of pairs")
    if len(ds) == 0:
        raise ValueError(f"{field} is empty: it must hold at least one (input, target) pair")
    if hasattr(ds, "tensors"):  # a TensorDataset
        if len(ds.tensors) < 2:
            raise ValueError(f"{field} holds {len(ds.tensors)} tensor(s): it needs inputs, targets")
        return ds.tensors[0], ds.tensors[1]
    xs, ys = [], []
    for i in range(len(ds)):
        item = ds[i]
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValueError(f"{field} item {i} is not an (input, target) pair: {item!r:.60}")
        x, y = (torch.as_tensor(t) for t in item)
        if xs and x.shape != xs[0].shape:
            raise ValueError(
                f"{field} item {i} has input shape {tuple(x.shape)}, item 0 has "
                f"{tuple(xs[0].shape)}: every input must have the same shape (pad or cut)"
            )
        xs.append(x)
        ys.append(y)
    return torch.stack(xs), torch.stack(ys)


def _first(mask: torch.Tensor) -> int:
    """The first item (row) where ``mask`` holds a True."""
    rows = mask.reshape(len(mask), -1).any(1)
    return int(rows.nonzero()[0, 0])


def _check_range(values: torch.Tensor, hi: int, what: str, field: str, name: str, skip=None):
    """Every value in [0, hi), except those equal to ``skip`` (an ignored LM target)."""
    bad = (values < 0) | (values >= hi)
    if skip is not None:
        bad &= values != skip
    if bad.any():
        i = _first(bad)
        value = int(values[bad][0])
        raise ValueError(
            f"{field} {what} hold {value} at item {i}: they must be integers in "
            f"[0, {hi - 1}] ({name}={hi})"
        )


def dataset_tensors(
    ds: Any, field: str = "dataset", model: nn.Module | None = None, task: str = "classify"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) of ``ds``, checked against ``model`` (its ``cfg`` if it has one)."""
    x, y = _pairs(ds, field)
    if len(x) != len(y):
        raise ValueError(f"{field} has {len(x)} inputs but {len(y)} targets: they must pair up")
    if x.is_floating_point():
        bad = ~torch.isfinite(x)
        if bad.any():
            raise ValueError(
                f"{field} inputs hold {int(bad.sum())} non-finite value(s) (NaN or inf), the "
                f"first in item {_first(bad)}: fix or drop those items before training"
            )
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise ValueError(f"{field} targets are {y.dtype}: they must be integer class ids (long)")
    y = y.long()  # int32 or uint8 labels: the same ids as cross_entropy needs them
    if not x.is_floating_point() and not x.is_complex():
        x = x.long()  # uint8 or int16 token ids: an embedding takes long
    cfg = getattr(model, "cfg", None)
    if isinstance(cfg, ModelConfig) and not x.is_floating_point():
        _check_range(x, cfg.vocab_size, "inputs", field, "vocab_size")
        if x.dim() != 2 or x.size(1) > cfg.max_len:
            raise ValueError(
                f"{field} inputs have shape {tuple(x.shape)}: they must be (n, T) token ids "
                f"with T <= max_len={cfg.max_len}"
            )
    if task == "lm":
        if y.shape != x.shape:
            raise ValueError(
                f"{field} targets have shape {tuple(y.shape)}: an LM needs one target per "
                f"input token, {tuple(x.shape)}"
            )
        if isinstance(cfg, ModelConfig):
            _check_range(y, cfg.vocab_size, "targets", field, "vocab_size", IGNORE_INDEX)
        return x, y
    if y.dim() != 1:
        raise ValueError(f"{field} targets have shape {tuple(y.shape)}: one label per item, (n,)")
    head = getattr(model, "head", None)
    n_classes = cfg.n_classes if isinstance(cfg, ModelConfig) else getattr(head, "out_features", 0)
    if n_classes:
        _check_range(y, n_classes, "targets", field, "n_classes")
    return x, y


def check_trainable(model: nn.Module, device: torch.device, task: str) -> None:
    """Weights and a model ``train_model`` can train: float32 (or bfloat16/float64), not
    float16; a model with a head for ``task`` (not an encoder-only ``task="encode"``)."""
    cfg = getattr(model, "cfg", None)
    own_task = getattr(cfg, "task", None)
    if own_task == "encode":
        raise ValueError(
            "model is an encoder-only model (cfg.task='encode', hidden states, no head): "
            "train_model needs a head; build it with task='classify' or task='lm'"
        )
    if own_task in ("classify", "lm") and own_task != task:
        raise ValueError(
            f"task={task!r} is not allowed for this model: it was built with "
            f"task={own_task!r}; pass task={own_task!r}"
        )
    params = list(model.parameters())
    if not any(p.requires_grad for p in params):
        raise ValueError(
            f"model has no trainable parameters ({len(params)} tensors, all requires_grad=False): "
            "unfreeze some (p.requires_grad_(True)) before train_model"
        )
    if any(p.is_meta for p in params):
        raise ValueError(
            "model weights are on the meta device (shapes only, no values): build it without "
            "torch.device('meta'), or load its weights first"
        )
    half = sorted({n for n, p in model.named_parameters() if p.dtype == torch.float16})
    if half:
        raise ValueError(
            f"model weights are torch.float16 (e.g. {half[0]}): a dtype that cannot be trained "
            f"on {device.type} (float16 overflows without loss scaling, at any lr); call "
            "model.float() first"
            + (" (amp=True already computes in bfloat16 on CUDA)" if device.type == "cuda" else "")
        )


def check_output_path(
    path: str | os.PathLike, field: str, needs_bytes: int = 0, probe_bytes: int = 0
) -> Path:
    """``path`` as a Path once a file can be written there; a ValueError naming ``field``
    otherwise. Makes the missing folders, and probes with a temporary file (removed) into
    which ``probe_bytes`` bytes are written and synced, so that a full disk shows now.
    ``~`` is expanded (a folder literally named ``~`` is never made)."""
    path = Path(path).expanduser()
    try:
        if path.is_dir():
            raise ValueError(f"{field}={str(path)!r} is not allowed: it is a folder, not a file")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        try:
            if probe_bytes:
                os.write(fd, b"\0" * probe_bytes)
                os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as err:
        why = {
            errno.ENAMETOOLONG: "the name is too long for the file system",
            errno.ENOTDIR: "a file stands where a folder should be",
            errno.EEXIST: "a file stands where a folder should be",
            errno.EACCES: "no permission to write there",
            errno.EPERM: "no permission to write there",
            errno.EROFS: "the file system is read-only",
            errno.ENOSPC: "the disk is full",
        }.get(err.errno)
        why = f"{why}: {err.strerror}" if why else err.strerror  # ours, then the OS's words
        raise ValueError(
            f"{field}={str(path)!r} is not allowed: it cannot be written ({why})"
        ) from None
    free = shutil.disk_usage(path.parent).free
    if needs_bytes > free:
        raise ValueError(
            f"{field}={str(path)!r} is not allowed: it needs about {needs_bytes / 2**20:.1f} MiB "
            f"and only {free / 2**20:.1f} MiB are free there"
        )
    return path
