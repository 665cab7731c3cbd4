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
from course_lib.i18n import _

IGNORE_INDEX = -100  # cross_entropy's default: a target position that does not count


def _pairs(ds: Any, field: str) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(ds, tuple | list) and len(ds) == 2 and all(torch.is_tensor(t) for t in ds):
        raise ValueError(
            _(
                "{field}={kind} is not allowed: wrap the two tensors as torch.utils.data.TensorDataset(inputs, targets)"
            ).format(field=field, kind=type(ds).__name__)
        )
    if not hasattr(ds, "__len__") or not hasattr(ds, "__getitem__"):
        raise ValueError(
            _("{field}={kind} is not allowed: pass a Dataset of pairs").format(
                field=field, kind=type(ds).__name__
            )
        )
    if len(ds) == 0:
        raise ValueError(
            _("{field} is empty: it must hold at least one (input, target) pair").format(
                field=field
            )
        )
    if hasattr(ds, "tensors"):  # a TensorDataset
        if len(ds.tensors) < 2:
            raise ValueError(
                _("{field} holds {n} tensor(s): it needs inputs, targets").format(
                    field=field, n=len(ds.tensors)
                )
            )
        return ds.tensors[0], ds.tensors[1]
    xs, ys = [], []
    for i in range(len(ds)):
        item = ds[i]
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise ValueError(
                _("{field} item {i} is not an (input, target) pair: {item!r:.60}").format(
                    field=field, i=i, item=item
                )
            )
        x, y = (torch.as_tensor(t) for t in item)
        if xs and x.shape != xs[0].shape:
            raise ValueError(
                _(
                    "{field} item {i} has input shape {shape}, item 0 has {shape2}: every input must have the same shape (pad or cut)"
                ).format(field=field, i=i, shape=tuple(x.shape), shape2=tuple(xs[0].shape))
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
            _(
                "{field} {what} hold {value} at item {i}: they must be integers in [0, {last}] ({name}={hi})"
            ).format(field=field, what=what, value=value, i=i, last=hi - 1, name=name, hi=hi)
        )


def dataset_tensors(
    ds: Any, field: str = "dataset", model: nn.Module | None = None, task: str = "classify"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) of ``ds``, checked against ``model`` (its ``cfg`` if it has one)."""
    x, y = _pairs(ds, field)
    if len(x) != len(y):
        raise ValueError(
            _("{field} has {n} inputs but {n2} targets: they must pair up").format(
                field=field, n=len(x), n2=len(y)
            )
        )
    if x.is_floating_point():
        bad = ~torch.isfinite(x)
        if bad.any():
            raise ValueError(
                _(
                    "{field} inputs hold {value} non-finite value(s) (NaN or inf), the first in item {value2}: fix or drop those items before training"
                ).format(field=field, value=int(bad.sum()), value2=_first(bad))
            )
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise ValueError(
            _("{field} targets are {dtype}: they must be integer class ids (long)").format(
                field=field, dtype=y.dtype
            )
        )
    y = y.long()  # int32 or uint8 labels: the same ids as cross_entropy needs them
    if not x.is_floating_point() and not x.is_complex():
        x = x.long()  # uint8 or int16 token ids: an embedding takes long
    cfg = getattr(model, "cfg", None)
    if isinstance(cfg, ModelConfig) and not x.is_floating_point():
        _check_range(x, cfg.vocab_size, "inputs", field, "vocab_size")
        if x.dim() != 2 or x.size(1) > cfg.max_len:
            raise ValueError(
                _(
                    "{field} inputs have shape {shape}: they must be (n, T) token ids with T <= max_len={max_len}"
                ).format(field=field, shape=tuple(x.shape), max_len=cfg.max_len)
            )
    if task == "lm":
        if y.shape != x.shape:
            raise ValueError(
                _(
                    "{field} targets have shape {shape}: an LM needs one target per input token, {shape2}"
                ).format(field=field, shape=tuple(y.shape), shape2=tuple(x.shape))
            )
        if isinstance(cfg, ModelConfig):
            _check_range(y, cfg.vocab_size, "targets", field, "vocab_size", IGNORE_INDEX)
        return x, y
    if y.dim() != 1:
        raise ValueError(
            _("{field} targets have shape {shape}: one label per item, (n,)").format(
                field=field, shape=tuple(y.shape)
            )
        )
    head = getattr(model, "head", None)
    n_classes = cfg.n_classes if isinstance(cfg, ModelConfig) else getattr(head, "out_features", 0)
    if n_classes:
        _check_range(y, n_classes, "targets", field, "n_classes")
    return x, y
