"""Checkpoints: a model's ``ModelConfig`` and ``state_dict`` in one file (notebook 03, and
every notebook that saves a trained model; ``course_lib.training.train`` re-exports both functions).

``save_checkpoint`` refuses, before writing anything, a config that does not describe the
model (the file could never be loaded) and a path that cannot be written; it copies each
storage to the CPU once, so a tensor shared by several layers is stored once, and writes
through ``course_lib.files.atomic_write`` (a crash leaves the previous file, mode 0644).
``load_checkpoint`` rebuilds the model from the stored config, so shared layers are one
tensor again, and names the file and the problem whenever something does not fit
(another model's tensors, integer weights, NaN or infinite weights).

A save never overwrites a file it did not write (a results CSV, a notebook): an existing
file at ``path`` must be a course_lib checkpoint. Temp files that a killed save left are
removed by the next save to the same path (``course_lib.files.remove_stale_temp_files``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from course_lib.config import ModelConfig
from course_lib.files import atomic_write, check_output_path, remove_stale_temp_files
from course_lib.i18n import _
from course_lib.nn.model import build_model

CHECKPOINT_FORMAT = "course_lib.checkpoint"
CHECKPOINT_VERSION = 1


def state_bytes(model: nn.Module) -> int:
    """Bytes of the unique tensors of ``model.state_dict()``: about a checkpoint's size."""
    unique = {t.untyped_storage().data_ptr(): t for t in model.state_dict().values()}
    return sum(t.untyped_storage().nbytes() for t in unique.values())


def check_config_fits(model: nn.Module, cfg: ModelConfig, where: str) -> None:
    """``cfg`` must rebuild ``model``: same config if the model holds one, and the same
    tensor names, shapes and sharing as ``build_model(cfg)`` (built on the meta device)."""
    own = getattr(model, "cfg", None)
    if isinstance(own, ModelConfig) and own != cfg:
        mine, theirs = own.to_dict(), cfg.to_dict()
        diff = {k: (v, mine[k]) for k, v in theirs.items() if mine[k] != v}
        raise ValueError(
            _(
                "{where} is not allowed: cfg does not describe this model; field: (cfg, model) {diff}"
            ).format(where=where, diff=diff)
        )
    with torch.device("meta"):
        reference = build_model(cfg)
    problem = _mismatch(reference, model.state_dict())
    if problem is None:  # the same names and shapes: now the same sharing
        groups: dict[int, list[str]] = {}
        for name, p in reference.named_parameters(remove_duplicate=False):
            groups.setdefault(id(p), []).append(name)
        params = dict(model.named_parameters(remove_duplicate=False))
        for names in groups.values():
            if len({id(params.get(n)) for n in names}) > 1:
                problem = _("cfg shares {a} with {b}, the model does not").format(
                    a=names[0], b=names[1]
                )
                break
    if problem is not None:
        raise ValueError(
            _(
                "{where} is not allowed: the file could never be loaded, {problem} "
                "(cfg.sharing={sharing}; pass the ModelConfig the model was built from)"
            ).format(where=where, problem=problem, sharing=repr(cfg.sharing))
        )


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """``state_dict`` on the CPU, each storage copied once: a tensor shared by several
    layers (or tied embeddings) stays one tensor, on CUDA as on the CPU (where ``.cpu()``
    per key would make one copy per name)."""
    copies: dict[tuple, torch.UntypedStorage] = {}
    out = {}
    for name, t in model.state_dict().items():
        storage = t.untyped_storage()
        key = (storage.device, storage.data_ptr())
        if key not in copies:
            copies[key] = storage.cpu()  # the CPU storage itself when already there
        out[name] = torch.empty(0, dtype=t.dtype).set_(
            copies[key], t.storage_offset(), t.shape, t.stride()
        )
    return out


def _is_checkpoint(path: Path) -> bool:
    try:  # mmap: the tensors are not read, only the small header and the pickle
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a torch file at all
        return False
    return isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT


def check_checkpoint_target(path: str | os.PathLike, field: str, needs_bytes: int = 0) -> Path:
    """``path`` (``~`` expanded) once a checkpoint may be written there: writable, and
    either free or holding a course_lib checkpoint (never a file save_checkpoint did not
    write, such as a results CSV); a ValueError naming ``field`` otherwise."""
    path = check_output_path(Path(path).expanduser(), field, needs_bytes)
    if path.exists() and not _is_checkpoint(path):
        raise ValueError(
            _(
                "{field}={path} is not allowed: it holds a file that is not a course_lib "
                "checkpoint (a results CSV? data?), and a save would overwrite it; choose another "
                "path, or delete that file first"
            ).format(field=field, path=repr(str(path)))
        )
    return path


def _non_finite(t: torch.Tensor) -> int:
    """How many NaN or inf values a floating-point tensor holds (0 for other dtypes)."""
    return int((~torch.isfinite(t)).sum()) if t.is_floating_point() else 0


def _check_finite_weights(model: nn.Module, where: str) -> None:
    for name, t in model.state_dict().items():
        if n := _non_finite(t):
            raise ValueError(
                _(
                    "{where} is not allowed: {name} holds {n} non-finite value(s) (NaN or inf); "
                    "the model diverged, and a checkpoint of it could only predict NaN"
                ).format(where=where, name=name, n=n)
            )


def save_checkpoint(path: str | os.PathLike, model: nn.Module, cfg: ModelConfig) -> Path:
    """Write {format, version, config, state_dict} to ``path`` atomically (temp + rename,
    ``course_lib.files``), mode 0644 like the results CSVs.

    Refused before anything is written when ``cfg`` does not describe ``model`` (the file
    could never be loaded), when a weight is NaN or infinite, when ``path`` cannot be
    written or holds a file that is not a checkpoint. A shared tensor appears under
    several names in ``state_dict`` but is stored once.
    """
    if not isinstance(cfg, ModelConfig):
        raise ValueError(
            _("cfg={kind} is not allowed: pass the model's ModelConfig").format(
                kind=type(cfg).__name__
            )
        )
    check_config_fits(model, cfg, _("checkpoint {path}").format(path=path))
    _check_finite_weights(model, _("checkpoint {path}").format(path=path))
    path = check_checkpoint_target(path, "checkpoint path", state_bytes(model))
    remove_stale_temp_files(path)  # what a killed save to this path left behind
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": cfg.to_dict(),
        "state_dict": _cpu_state(model),
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _read_checkpoint(path: Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    if not path.is_file():
        raise ValueError(_("checkpoint {path} does not exist (or is not a file)").format(path=path))
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, or unsafe pickle
        raise ValueError(
            _(
                "checkpoint {path} is corrupt or not a course_lib checkpoint ({kind}: {detail})"
            ).format(
                path=path,
                kind=type(err).__name__,
                detail=str(err).splitlines()[0][:120] if str(err) else "",
            )
        ) from None
    if not isinstance(payload, dict):
        raise ValueError(
            _("checkpoint {path} holds a {kind}, not a dict").format(
                path=path, kind=type(payload).__name__
            )
        )
    missing = [k for k in ("format", "version", "config", "state_dict") if k not in payload]
    if missing:
        raise ValueError(
            _("checkpoint {path} lacks key(s) {missing}").format(path=path, missing=missing)
        )
    if payload["format"] != CHECKPOINT_FORMAT or payload["version"] != CHECKPOINT_VERSION:
        raise ValueError(
            _(
                "checkpoint {path} has format={format} version={version};"
                " this course_lib reads {want_format} version {want_version}"
            ).format(
                path=path,
                format=repr(payload["format"]),
                version=repr(payload["version"]),
                want_format=repr(CHECKPOINT_FORMAT),
                want_version=CHECKPOINT_VERSION,
            )
        )
    try:
        cfg = ModelConfig.from_dict(payload["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(
            _("checkpoint {path} has an invalid config: {err}").format(path=path, err=err)
        ) from None
    return cfg, payload["state_dict"]


def _mismatch(model: nn.Module, state: dict[str, torch.Tensor]) -> str | None:
    """What differs between ``state`` and ``model``'s tensor names and shapes, or None."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        return _("missing {missing}, unexpected {unexpected}").format(
            missing=f"{missing[:4]}{' ...' if len(missing) > 4 else ''}",
            unexpected=f"{unexpected[:4]}{' ...' if len(unexpected) > 4 else ''}",
        )
    for k, v in expected.items():
        if not torch.is_tensor(state[k]):
            return _("{k} is a {kind}, not a tensor").format(k=k, kind=type(state[k]).__name__)
        if tuple(state[k].shape) != tuple(v.shape):
            return _("{k} has shape {shape}, the model needs {want}").format(
                k=k, shape=tuple(state[k].shape), want=tuple(v.shape)
            )
    return None


def _check_values(path: Path, model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Floating-point weights where the model has them (an int64 tensor would load as
    truncated values, often all zero), and every one finite (NaN weights predict NaN)."""
    for k, v in model.state_dict().items():
        t = state[k]
        if v.is_floating_point() and not t.is_floating_point():
            raise ValueError(
                _(
                    "checkpoint {path}: {k} is stored as {dtype}, the model needs a floating-point "
                    "tensor ({want}); the file was not written by save_checkpoint"
                ).format(path=path, k=k, dtype=t.dtype, want=v.dtype)
            )
        if n := _non_finite(t):
            raise ValueError(
                _(
                    "checkpoint {path}: {k} holds {n} non-finite value(s) (NaN or inf): the model "
                    "had diverged when it was saved; retrain it (e.g. with a smaller lr)"
                ).format(path=path, k=k, n=n)
            )


def _check_state(path: Path, model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Keys and shapes must match ``model``; tensors the model shares must be equal."""
    problem = _mismatch(model, state)
    if problem is not None:
        raise ValueError(
            _(
                "checkpoint {path} does not fit the model: {problem} "
                "(saved from another plan, size or config?)"
            ).format(path=path, problem=problem)
        )
    _check_values(path, model, state)
    first_name: dict[int, str] = {}  # parameters the model shares must agree in the file
    for name, p in model.named_parameters(remove_duplicate=False):
        other = first_name.setdefault(id(p), name)
        if other != name and not torch.equal(state[other], state[name]):
            raise ValueError(
                _(
                    "checkpoint {path}: {name} differs from {other}, but this model shares them "
                    "(sharing={sharing}); the file was saved from a model with another sharing plan"
                ).format(
                    path=path,
                    name=name,
                    other=other,
                    sharing=repr(getattr(getattr(model, "cfg", None), "sharing", "?")),
                )
            )


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module | None = None
) -> tuple[nn.Module, ModelConfig]:
    """(model, cfg) from ``path``; the model is rebuilt from the stored config (so shared
    layers are one tensor again) unless ``model`` is given, which is then filled in place.
    Every problem raises ``ValueError`` naming the file and what is wrong.
    """
    path = Path(path).expanduser()
    cfg, state = _read_checkpoint(path)
    if model is None:
        model = build_model(cfg)
    elif getattr(model, "cfg", cfg) != cfg:
        own = model.cfg.to_dict()
        diff = {k: (v, own[k]) for k, v in cfg.to_dict().items() if own[k] != v}
        raise ValueError(
            _(
                "checkpoint {path} was saved with a different config; field: (file, model) {diff}"
            ).format(path=path, diff=diff)
        )
    _check_state(path, model, state)
    model.load_state_dict(state)
    return model, cfg
