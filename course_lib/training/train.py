"""Training loop, evaluation and checkpoints (notebooks 03, 06-10, and every sweep).

One small loop in the spirit of nanoGPT's ``train.py``: AdamW (weight decay only on
matrices), linear warm-up then cosine decay to 10% of the peak learning rate, global
gradient-norm clipping, bfloat16 autocast on CUDA only (CPU float32 stays the reference),
a ``tqdm.auto`` progress bar. With sharing, a shared weight's gradient is the sum of its
gradients over every layer that uses it (notebook 06): clipping acts on that sum.

Each step is ``course_lib.training.step.train_step``, the one every loop takes. A run whose
loss or gradient becomes NaN or infinite stops with ``TrainingDiverged``, and so does one
whose loss stays finite but explodes: above ``step.LOSS_GROWTH_LIMIT`` times the loss of
step 0 at any step, or ending above ``FINAL_GROWTH_LIMIT`` times it. Weights the device
cannot train (float16, which overflows without loss scaling at any lr) are refused first.
Checkpoints live in ``course_lib.training.checkpoints``.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from course_lib.config import TRAIN_TASKS, TrainConfig
from course_lib.data.checks import dataset_tensors
from course_lib.i18n import _
from course_lib.nn.checks import check_model_config, check_trainable
from course_lib.runtime import get_device, seed_everything
from course_lib.training.checkpoints import (
    check_checkpoint_target,
    check_config_fits,
    save_checkpoint,
    state_bytes,
)
from course_lib.training.step import (
    LOSS_GROWTH_LIMIT,
    DivergenceCheck,
    TrainingDiverged,
    amp_autocast,
    train_step,
    training_loss,
)

TIMING_WARMUP_STEPS = 3  # steps left out of tokens_per_s
CUDA_CHECK_EVERY = 16  # on CUDA, losses are checked for NaN every 16 steps (one sync each)
FINAL_GROWTH_LIMIT = 10.0  # a run whose last 10 losses average 10x step 0's has diverged


def _check_task(task: str) -> None:
    if task not in TRAIN_TASKS:
        raise ValueError(
            _("task={task} is not allowed: choose 'classify' or 'lm'").format(task=repr(task))
        )


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            _("batch_size={batch_size} is not allowed: it must be an integer >= 1").format(
                batch_size=repr(batch_size)
            )
        )


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


@torch.no_grad()
def evaluate(
    model: nn.Module, ds: Dataset, task: str = "classify", batch_size: int = 256, amp: bool = True
) -> dict[str, float]:
    """Mean loss (and accuracy for ``classify``) of ``model`` over the whole of ``ds``."""
    _check_task(task)
    _check_batch_size(batch_size)
    x_all, y_all = dataset_tensors(ds, "ds", model, task)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for i in range(0, len(x_all), batch_size):
        x = x_all[i : i + batch_size].to(device)
        y = y_all[i : i + batch_size].to(device)
        with amp_autocast(device, amp):
            logits = model(x)  # classify: (B, C); lm: (B, T, V)
            loss = training_loss(logits, y)  # per sequence or per token
        n = y.numel()  # sequences for classify, tokens for lm
        total_loss += loss.item() * n
        count += n
        if task == "classify":
            correct += (logits.argmax(-1) == y).sum().item()
    model.train(was_training)
    if count == 0:  # an LM whose every target is ignored (-100)
        raise ValueError(_("ds has no target to score: every target is the ignore index -100"))
    out = {"loss": total_loss / count}
    if task == "classify":
        out["accuracy"] = correct / count
    return out


def _check_final_loss(losses: list[float], lr: float, peak: float) -> None:
    """A run that ends far above where it started learned nothing but to blow up."""
    last = losses[-10:]
    end = sum(last) / len(last)
    if len(losses) > 10 and losses[0] > 0 and end > FINAL_GROWTH_LIMIT * losses[0]:
        what = _(
            "the loss ended at {end:.3g} (mean of the last 10 steps), over "
            "{limit:g}x its {start:.3g} at step 0"
        ).format(end=end, limit=FINAL_GROWTH_LIMIT, start=losses[0])
        raise TrainingDiverged(len(losses) - 1, lr, what, peak_lr=peak)


def _check_weights(model: nn.Module, step: int, lr: float, peak: float) -> None:
    """After the last step: an optimizer step can overflow weights without a NaN loss yet."""
    finite = torch.stack([torch.isfinite(p).all() for p in model.parameters()])
    if not bool(finite.all()):
        what = _("the optimizer step made some weights non-finite")
        raise TrainingDiverged(step, lr, what, peak_lr=peak)


def train_model(
    model: nn.Module,
    train_ds: Dataset,
    train_cfg: TrainConfig,
    eval_ds: Dataset | None = None,
    task: str = "classify",
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Train ``model`` in place for ``train_cfg.steps`` steps; returns the history.

    History keys: "loss" (one float per step), "lr", "eval" (list of {"step", "loss"[,
    "accuracy"]}, every ``eval_every`` steps and at the end, when ``eval_ds`` is given),
    "train_time_s" (training only, evaluation excluded), "tokens_per_s" (input positions
    per second, padding included, timed after ``TIMING_WARMUP_STEPS`` steps so that CUDA
    start-up and kernel autotuning do not count), "peak_mem_mb" (``torch.cuda.max_memory_allocated``
    on CUDA; None elsewhere), "device".

    Stops with ``TrainingDiverged`` (naming the step and the learning rate) at the first
    non-finite loss or gradient norm: checked every step on the CPU, every
    ``CUDA_CHECK_EVERY`` steps on CUDA (the step named is still the first bad one).
    ``checkpoint``: a file to save the trained model to (``save_checkpoint``); whether it
    can be written is checked before the first step.
    """
    _check_task(task)
    if not isinstance(train_cfg, TrainConfig):
        raise ValueError(
            _("train_cfg={kind} is not allowed: pass a TrainConfig").format(
                kind=type(train_cfg).__name__
            )
        )
    device = get_device(train_cfg.device)
    check_trainable(model, device, task)  # before the data: the task names the real problem
    x_all, y_all = dataset_tensors(train_ds, "train_ds", model, task)
    if eval_ds is not None:
        dataset_tensors(eval_ds, "eval_ds", model, task)
    if checkpoint is not None:
        cfg = check_model_config(getattr(model, "cfg", None), "model.cfg")
        check_config_fits(model, cfg, f"checkpoint={str(checkpoint)!r}")
        check_checkpoint_target(checkpoint, "checkpoint", state_bytes(model))
    seed_everything(train_cfg.seed)  # dropout masks repeat run to run
    model.to(device).train()
    x_all, y_all = x_all.to(device), y_all.to(device)  # small sets fit on the device
    n = len(x_all)
    gen = torch.Generator().manual_seed(train_cfg.seed)  # the order batches are drawn in
    opt = make_optimizer(model, train_cfg)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        torch.cuda.synchronize(device)
    check_every = CUDA_CHECK_EVERY if device.type == "cuda" else 1  # each read syncs the GPU
    check = DivergenceCheck(train_cfg.steps, check_every, train_cfg.lr, LOSS_GROWTH_LIMIT)
    history: dict[str, Any] = {"loss": [], "lr": check.lrs, "eval": [], "device": str(device)}
    order, pos, eval_time, tokens = torch.randperm(n, generator=gen).to(device), 0, 0.0, 0
    start = time.perf_counter()
    steady_from = min(TIMING_WARMUP_STEPS, train_cfg.steps - 1)
    bar = tqdm(range(train_cfg.steps), disable=not progress, desc="train", leave=False)
    try:  # the bar closes also when training stops with an error
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
            clip, amp = train_cfg.grad_clip, train_cfg.amp
            loss, _unused = train_step(
                model, opt, x, y, step=step, lr=lr, check=check, clip=clip, amp=amp
            )
            tokens += x.numel() if step >= steady_from else 0
            if progress and (step % 25 == 0 or step + 1 == train_cfg.steps):
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            last = step + 1 == train_cfg.steps
            every = train_cfg.eval_every and (step + 1) % train_cfg.eval_every == 0
            if eval_ds is not None and (last or every):
                t0 = time.perf_counter()
                metrics = evaluate(model, eval_ds, task, amp=train_cfg.amp)
                history["eval"].append({"step": step + 1, **metrics})
                eval_time += time.perf_counter() - t0
    finally:
        bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    end = time.perf_counter()
    _check_weights(model, train_cfg.steps - 1, history["lr"][-1], train_cfg.lr)
    history["train_time_s"] = end - start - eval_time
    history["tokens_per_s"] = tokens / max(end - steady_start - (eval_time - steady_eval), 1e-9)
    history["loss"] = torch.stack(check.losses).float().cpu().tolist()
    _check_final_loss(history["loss"], history["lr"][-1], train_cfg.lr)
    history["peak_mem_mb"] = (
        torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    )
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, model.cfg)
    return history
