"""Training loop, evaluation and checkpoints (notebooks 03, 06-10, and every sweep).

One small loop in the spirit of nanoGPT's ``train.py``: AdamW (weight decay only on
matrices), linear warm-up then cosine decay to 10% of the peak learning rate, global
gradient-norm clipping, bfloat16 autocast on CUDA only (CPU float32 stays the reference),
a ``tqdm.auto`` progress bar. With sharing, a shared weight's gradient is the sum of its
gradients over every layer that uses it (notebook 06): clipping acts on that sum.

Checkpoints hold the ``ModelConfig`` and the ``state_dict`` and are written atomically.
``load_checkpoint`` rebuilds the model from the config, so shared layers stay one tensor.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .config import ModelConfig, TrainConfig
from .model import build_model
from .runtime import get_device, seed_everything

TASKS = ("classify", "lm")
CHECKPOINT_FORMAT = "course_lib.checkpoint"
CHECKPOINT_VERSION = 1
TIMING_WARMUP_STEPS = 3  # steps left out of tokens_per_s


class TrainingDiverged(RuntimeError):
    """Training met a non-finite loss, gradient or weight: the run has no result.

    ``step`` (0-based), ``lr`` (the learning rate at that step) and ``what`` (which
    quantity went non-finite) are attributes too, so a sweep can record the run as failed.
    """

    def __init__(self, step: int, lr: float, what: str, hint: str = ""):
        self.step, self.lr, self.what = step, lr, what
        hint = hint or (
            f"try a smaller lr (e.g. lr={lr / 10:.3g}), more warmup_steps, or grad_clip=1.0"
        )
        super().__init__(f"training diverged at step {step} (lr={lr:.3g}): {what}; {hint}")


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not allowed: choose 'classify' or 'lm'")


def _tensors(ds: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) of a TensorDataset, or of any dataset of (x, y) pairs."""
    if hasattr(ds, "tensors"):
        x, y = ds.tensors[:2]
        return x, y
    xs, ys = zip(*(ds[i] for i in range(len(ds))), strict=True)
    return torch.stack(xs), torch.stack(ys)


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, task: str):
    logits = model(x)  # classify: (B, C); lm: (B, T, V)
    if task == "lm":
        return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten()), logits  # per token
    return F.cross_entropy(logits.float(), y), logits


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up, then cosine down to 10% of lr."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW / Adam / SGD (momentum 0.9); weight decay on matrices only, as nanoGPT."""
    params = list(model.parameters())  # each shared tensor once
    decay = [p for p in params if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in params if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.98))
    if cfg.optimizer == "adam":  # decay added to the gradient (L2), as classic Adam
        return torch.optim.Adam(groups, lr=cfg.lr, betas=(0.9, 0.98))
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9)


def _autocast(device: torch.device, amp: bool):
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@torch.no_grad()
def evaluate(
    model: nn.Module, ds: Dataset, task: str = "classify", batch_size: int = 256, amp: bool = True
) -> dict[str, float]:
    """Mean loss (and accuracy for ``classify``) of ``model`` over the whole of ``ds``."""
    _check_task(task)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    x_all, y_all = _tensors(ds)
    total_loss, correct, count = 0.0, 0, 0
    for i in range(0, len(x_all), batch_size):
        x = x_all[i : i + batch_size].to(device)
        y = y_all[i : i + batch_size].to(device)
        with _autocast(device, amp):
            loss, logits = _loss(model, x, y, task)
        n = y.numel()  # sequences for classify, tokens for lm
        total_loss += loss.item() * n
        count += n
        if task == "classify":
            correct += (logits.argmax(-1) == y).sum().item()
    model.train(was_training)
    out = {"loss": total_loss / max(count, 1)}
    if task == "classify":
        out["accuracy"] = correct / max(count, 1)
    return out


def train_model(
    model: nn.Module,
    train_ds: Dataset,
    train_cfg: TrainConfig,
    eval_ds: Dataset | None = None,
    task: str = "classify",
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``model`` in place for ``train_cfg.steps`` steps; returns the history.

    History keys: "loss" (one float per step), "lr", "eval" (list of {"step", "loss"[,
    "accuracy"]}, every ``eval_every`` steps and at the end, when ``eval_ds`` is given),
    "train_time_s" (training only, evaluation excluded), "tokens_per_s" (input positions
    per second, padding included, timed after ``TIMING_WARMUP_STEPS`` steps so that CUDA
    start-up and kernel autotuning do not count), "peak_mem_mb" (``torch.cuda.max_memory_allocated``
    on CUDA; None elsewhere), "device".
    """
    _check_task(task)
    if not isinstance(train_cfg, TrainConfig):
        raise ValueError(f"train_cfg={type(train_cfg).__name__} is not allowed: pass a TrainConfig")
    device = get_device(train_cfg.device)
    seed_everything(train_cfg.seed)  # dropout masks repeat run to run
    model.to(device).train()
    x_all, y_all = (t.to(device) for t in _tensors(train_ds))  # small sets fit on the device
    n = len(x_all)
    gen = torch.Generator().manual_seed(train_cfg.seed)  # the order batches are drawn in
    opt = make_optimizer(model, train_cfg)
    params = list(model.parameters())
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        torch.cuda.synchronize(device)
    history: dict[str, Any] = {"loss": [], "lr": [], "eval": [], "device": str(device)}
    order, pos, eval_time, tokens = torch.randperm(n, generator=gen).to(device), 0, 0.0, 0
    losses = []  # detached loss tensors: reading each one would sync the GPU every step
    start = time.perf_counter()
    steady_from = min(TIMING_WARMUP_STEPS, train_cfg.steps - 1)
    bar = tqdm(range(train_cfg.steps), disable=not progress, desc="train", leave=False)
    for step in bar:
        if step == steady_from:  # the steady-state clock starts here
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            steady_start, steady_eval = time.perf_counter(), eval_time
        if pos + train_cfg.batch_size > n:  # a new epoch: reshuffle
            order, pos = torch.randperm(n, generator=gen).to(device), 0
        idx = order[pos : pos + train_cfg.batch_size]
        pos += train_cfg.batch_size
        x, y = x_all[idx], y_all[idx]
        lr = lr_at(step, train_cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        with _autocast(device, train_cfg.amp):
            loss, _ = _loss(model, x, y, task)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if train_cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, train_cfg.grad_clip)
        opt.step()
        tokens += x.numel() if step >= steady_from else 0
        losses.append(loss.detach())
        history["lr"].append(lr)
        if progress and (step % 25 == 0 or step + 1 == train_cfg.steps):
            bar.set_postfix(loss=f"{losses[-1].item():.3f}", refresh=False)
        last = step + 1 == train_cfg.steps
        every = train_cfg.eval_every and (step + 1) % train_cfg.eval_every == 0
        if eval_ds is not None and (last or every):
            t0 = time.perf_counter()
            metrics = evaluate(model, eval_ds, task, amp=train_cfg.amp)
            history["eval"].append({"step": step + 1, **metrics})
            eval_time += time.perf_counter() - t0
    bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    end = time.perf_counter()
    history["train_time_s"] = end - start - eval_time
    history["tokens_per_s"] = tokens / max(end - steady_start - (eval_time - steady_eval), 1e-9)
    history["loss"] = torch.stack(losses).float().cpu().tolist()
    history["peak_mem_mb"] = (
        torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    )
    return history


# ---------------------------------------------------------------- checkpoints


def save_checkpoint(path: str | os.PathLike, model: nn.Module, cfg: ModelConfig) -> Path:
    """Write {format, version, config, state_dict} to ``path`` atomically (temp + rename).

    A shared tensor appears under several names in ``state_dict`` but is stored once.
    """
    if not isinstance(cfg, ModelConfig):
        raise ValueError(f"cfg={type(cfg).__name__} is not allowed: pass the model's ModelConfig")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"checkpoint path {path} is not allowed: it is a folder, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a file stands where a folder should be
        raise ValueError(
            f"checkpoint path {path} is not allowed: its folder cannot be made ({err.strerror})"
        ) from None
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": cfg.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _read_checkpoint(path: Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    if not path.is_file():
        raise ValueError(f"checkpoint {path} does not exist (or is not a file)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, or unsafe pickle
        raise ValueError(
            f"checkpoint {path} is corrupt or not a course_lib checkpoint "
            f"({type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''})"
        ) from None
    if not isinstance(payload, dict):
        raise ValueError(f"checkpoint {path} holds a {type(payload).__name__}, not a dict")
    missing = [k for k in ("format", "version", "config", "state_dict") if k not in payload]
    if missing:
        raise ValueError(f"checkpoint {path} lacks key(s) {missing}")
    if payload["format"] != CHECKPOINT_FORMAT or payload["version"] != CHECKPOINT_VERSION:
        raise ValueError(
            f"checkpoint {path} has format={payload['format']!r} version={payload['version']!r};"
            f" this course_lib reads {CHECKPOINT_FORMAT!r} version {CHECKPOINT_VERSION}"
        )
    try:
        cfg = ModelConfig.from_dict(payload["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"checkpoint {path} has an invalid config: {err}") from None
    return cfg, payload["state_dict"]


def _check_state(path: Path, model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Keys and shapes must match ``model``; tensors the model shares must be equal."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {path} does not fit the model: missing {missing[:4]}"
            f"{' ...' if len(missing) > 4 else ''}, unexpected {unexpected[:4]}"
            f"{' ...' if len(unexpected) > 4 else ''} (saved from another plan or size?)"
        )
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ValueError(
                f"checkpoint {path}: {k} has shape {tuple(state[k].shape)}, the model "
                f"needs {tuple(v.shape)} (saved from another config?)"
            )
    first_name: dict[int, str] = {}  # parameters the model shares must agree in the file
    for name, p in model.named_parameters(remove_duplicate=False):
        other = first_name.setdefault(id(p), name)
        if other != name and not torch.equal(state[other], state[name]):
            raise ValueError(
                f"checkpoint {path}: {name} differs from {other}, but this model shares them "
                f"(sharing={getattr(getattr(model, 'cfg', None), 'sharing', '?')!r}); "
                "the file was saved from a model with another sharing plan"
            )


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module | None = None
) -> tuple[nn.Module, ModelConfig]:
    """(model, cfg) from ``path``; the model is rebuilt from the stored config (so shared
    layers are one tensor again) unless ``model`` is given, which is then filled in place.
    Every problem raises ``ValueError`` naming the file and what is wrong.
    """
    path = Path(path)
    cfg, state = _read_checkpoint(path)
    if model is None:
        model = build_model(cfg)
    elif getattr(model, "cfg", cfg) != cfg:
        own = model.cfg.to_dict()
        diff = {k: (v, own[k]) for k, v in cfg.to_dict().items() if own[k] != v}
        raise ValueError(
            f"checkpoint {path} was saved with a different config; field: (file, model) {diff}"
        )
    _check_state(path, model, state)
    model.load_state_dict(state)
    return model, cfg
