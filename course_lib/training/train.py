"""Training loop, evaluation and checkpoints (notebooks 03, 06-10, and every sweep).

One small loop in the spirit of nanoGPT's ``train.py``: AdamW (weight decay only on
matrices), linear warm-up then cosine decay to 10% of the peak learning rate, global
gradient-norm clipping, bfloat16 autocast on CUDA only (CPU float32 stays the reference),
a ``tqdm.auto`` progress bar. With sharing, a shared weight's gradient is the sum of its
gradients over every layer that uses it (notebook 06): clipping acts on that sum.

A run whose loss or gradient becomes NaN or infinite stops with ``TrainingDiverged``, and so
does one whose loss stays finite but explodes: above ``LOSS_GROWTH_LIMIT`` times the loss
of step 0 at any step, or ending above ``FINAL_GROWTH_LIMIT`` times it. Weights the device
cannot train (float16, which overflows without loss scaling at any lr) are refused first.
Checkpoints live in ``course_lib.training.checkpoints`` (``save_checkpoint`` and ``load_checkpoint``
are importable from here too, as notebook 03 shows).
"""

from __future__ import annotations

import math
import os
import time
from contextlib import nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from course_lib.config import TRAIN_TASKS, TrainConfig
from course_lib.data.checks import dataset_tensors
from course_lib.nn.checks import check_model_config, check_trainable
from course_lib.runtime import get_device, seed_everything
from course_lib.training.checkpoints import (
    check_checkpoint_target,
    check_config_fits,
    save_checkpoint,
    state_bytes,
)

TIMING_WARMUP_STEPS = 3  # steps left out of tokens_per_s
CUDA_CHECK_EVERY = 16  # on CUDA, losses are checked for NaN every 16 steps (one sync each)
LOSS_GROWTH_LIMIT = 100.0  # a loss 100x that of step 0 is exploding, finite or not
FINAL_GROWTH_LIMIT = 10.0  # a run whose last 10 losses average 10x step 0's has diverged


class TrainingDiverged(RuntimeError):
    """Training met a non-finite loss, gradient or weight: the run has no result.

    ``step`` (0-based), ``lr`` (the learning rate at that step), ``peak_lr`` (the
    configured one, if known) and ``what`` (which quantity went non-finite) are attributes
    too, so a sweep can record the run as failed.
    """

    def __init__(
        self, step: int, lr: float, what: str, hint: str = "", peak_lr: float | None = None
    ):
        self.step, self.lr, self.what, self.peak_lr = step, lr, what, peak_lr
        if peak_lr is not None and peak_lr != lr:
            lr_text = f"lr={lr:.3g} during warm-up/decay, peak lr={peak_lr:.3g}"
        else:
            lr_text = f"lr={lr:.3g}"
        hint = hint or (
            f"try a smaller lr (e.g. lr={(peak_lr or lr) / 10:.3g}); with a TrainConfig also more "
            "warmup_steps or grad_clip=1.0"
        )
        super().__init__(f"training diverged at step {step} ({lr_text}): {what}; {hint}")


def check_step(step: int, lr: float, loss: float, grad_norm: float) -> None:
    """Raise ``TrainingDiverged`` unless ``loss`` and ``grad_norm`` (floats) are finite;
    for loops that read the loss every step anyway (notebooks 08 and 09)."""
    if not math.isfinite(loss):
        raise TrainingDiverged(step, lr, f"the loss is {loss}")
    if not math.isfinite(grad_norm):
        raise TrainingDiverged(step, lr, f"the gradient norm is {grad_norm}")


def optimizer_step(
    opt: torch.optim.Optimizer, step: int, lr: float, peak_lr: float | None = None
) -> None:
    """``opt.step()``; an update too large for float32 (a huge lr) raises TrainingDiverged."""
    try:
        opt.step()
    except RuntimeError as err:
        if "overflow" not in str(err):
            raise
        what = f"the optimizer step overflowed ({err})"
        raise TrainingDiverged(step, lr, what, peak_lr=peak_lr) from None


def _check_task(task: str) -> None:
    if task not in TRAIN_TASKS:
        raise ValueError(f"task={task!r} is not allowed: choose 'classify' or 'lm'")


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} is not allowed: it must be an integer >= 1")


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
    _check_batch_size(batch_size)
    x_all, y_all = dataset_tensors(ds, "ds", model, task)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
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
    if count == 0:  # an LM whose every target is ignored (-100)
        raise ValueError("ds has no target to score: every target is the ignore index -100")
    out = {"loss": total_loss / count}
    if task == "classify":
        out["accuracy"] = correct / count
    return out


def _divergence(
    losses, norms, first: int, lrs: list[float], peak: float
) -> TrainingDiverged | None:
    """The error for the first step from ``first`` on whose loss or gradient norm is not
    finite, or None; reads the device tensors once (a single GPU sync)."""
    window = torch.stack([torch.stack(losses[first:]), torch.stack(norms[first:])]).float().cpu()
    finite = torch.isfinite(window)
    if bool(finite.all()):
        start = float(losses[0])  # the untrained model's loss: what training must not exceed
        grown = (window[0] > LOSS_GROWTH_LIMIT * start).nonzero()
        if start > 0 and len(grown):
            i = int(grown[0, 0])
            what = (
                f"the loss grew from {start:.3g} at step 0 to {float(window[0, i]):.3g} "
                f"(over {LOSS_GROWTH_LIMIT:g}x: finite, but exploding)"
            )
            return TrainingDiverged(first + i, lrs[first + i], what, peak_lr=peak)
        return None
    i = int((~finite.all(0)).nonzero()[0, 0])
    loss, norm = window[:, i].tolist()
    what = f"the loss is {loss}" if not math.isfinite(loss) else f"the gradient norm is {norm}"
    return TrainingDiverged(first + i, lrs[first + i], what, peak_lr=peak)


def _check_final_loss(losses: list[float], lr: float, peak: float) -> None:
    """A run that ends far above where it started learned nothing but to blow up."""
    last = losses[-10:]
    end = sum(last) / len(last)
    if len(losses) > 10 and losses[0] > 0 and end > FINAL_GROWTH_LIMIT * losses[0]:
        what = (
            f"the loss ended at {end:.3g} (mean of the last 10 steps), over "
            f"{FINAL_GROWTH_LIMIT:g}x its {losses[0]:.3g} at step 0"
        )
        raise TrainingDiverged(len(losses) - 1, lr, what, peak_lr=peak)


def _check_weights(model: nn.Module, step: int, lr: float, peak: float) -> None:
    """After the last step: an optimizer step can overflow weights without a NaN loss yet."""
    finite = torch.stack([torch.isfinite(p).all() for p in model.parameters()])
    if not bool(finite.all()):
        what = "the optimizer step made some weights non-finite"
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
        raise ValueError(f"train_cfg={type(train_cfg).__name__} is not allowed: pass a TrainConfig")
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
    params = list(model.parameters())
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        torch.cuda.synchronize(device)
    history: dict[str, Any] = {"loss": [], "lr": [], "eval": [], "device": str(device)}
    order, pos, eval_time, tokens = torch.randperm(n, generator=gen).to(device), 0, 0.0, 0
    losses, norms = [], []  # detached tensors: reading each one would sync the GPU every step
    check_every, checked = (CUDA_CHECK_EVERY if device.type == "cuda" else 1), 0
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
            for group in opt.param_groups:
                group["lr"] = lr
            with _autocast(device, train_cfg.amp):
                loss, _ = _loss(model, x, y, task)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if train_cfg.grad_clip is not None:
                norm = torch.nn.utils.clip_grad_norm_(params, train_cfg.grad_clip)
            else:
                norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
            losses.append(loss.detach())
            norms.append(norm.detach())
            history["lr"].append(lr)
            if (step + 1) % check_every == 0 or step + 1 == train_cfg.steps:
                diverged = _divergence(losses, norms, checked, history["lr"], train_cfg.lr)
                if diverged is not None:
                    raise diverged
                checked = step + 1
            optimizer_step(opt, step, lr, train_cfg.lr)
            tokens += x.numel() if step >= steady_from else 0
            if progress and (step % 25 == 0 or step + 1 == train_cfg.steps):
                bar.set_postfix(loss=f"{losses[-1].item():.3f}", refresh=False)
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
    history["loss"] = torch.stack(losses).float().cpu().tolist()
    _check_final_loss(history["loss"], history["lr"][-1], train_cfg.lr)
    history["peak_mem_mb"] = (
        torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    )
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, model.cfg)
    return history
