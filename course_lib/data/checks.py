"""Checks of a dataset before any training, so that a bad input stops with a message naming
the argument and what is allowed instead of a deep traceback or, worse, a wrong number
(every notebook that trains: 03, 06-10, and every sweep).

``dataset_tensors``: the (inputs, targets) of a dataset, refusing empty, ragged and tuple
datasets, non-finite inputs (a NaN pixel), token ids outside the vocabulary, sequences longer
than ``max_len`` and labels outside ``0..n_classes-1``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from course_lib.config import ModelConfig

IGNORE_INDEX = -100  # cross_entropy's default: a target position that does not count


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
