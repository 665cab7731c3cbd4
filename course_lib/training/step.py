"""One loss and one training step for every training loop of the course (notebooks 06-10,
12, 13 and every sweep).

Every loop takes its steps with ``train_step``: ``training.train.train_model`` (notebooks 06,
07, 10, 12 and the sweeps), ``training.loops.train_looped`` (09),
``training.loops.train_recurrent`` and ``experiments.ondemand.train_mor`` (13),
``training.distributed.train`` (08), the step that ``measure.cost.train_step_fn`` times
and the one ``measure.cost.training_state_memory`` takes before it measures (08);
``tests/training/test_one_training_step.py`` holds every loop to it. A step is the one nanoGPT's ``train.py`` takes: set the learning rate the loop's
schedule gives, forward (bfloat16 autocast on CUDA when asked), loss, backward, global
gradient-norm clipping, the divergence check, the optimizer step. The loops differ only in
where their batches come from, their schedule and what they record.

The loss (``training_loss``) is cross-entropy over the last axis of the logits, leaving out
every target equal to ``IGNORE_INDEX`` (-100), so one call scores a classifier ((B, C)
logits, (B,) labels) and a language model or token tagger ((B, T, V), (B, T)). The
convention for an auxiliary loss: a model whose forward returns an object with ``logits``
and ``aux_loss`` (a scalar tensor) gets ``aux_weight * aux_loss`` added, as ACT's ponder
cost (Graves 2016, eq. 14; ``nn.looped``) and the Mixture-of-Recursions balancing loss (Bae
et al. 2025; ``nn.mor``).

A run whose loss or gradient norm becomes NaN or infinite stops with ``TrainingDiverged``,
naming the step and its learning rate (``DivergenceCheck``), and so, where a loop asks for
it, does one whose loss stays finite but grows above ``LOSS_GROWTH_LIMIT`` times the loss of
step 0. The check comes before the optimizer step, so on the CPU no NaN reaches the weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.i18n import _

IGNORE_INDEX = -100  # a target that is only input (padding, a prompt): no loss there
LOSS_GROWTH_LIMIT = 100.0  # a loss 100x that of step 0 is exploding, finite or not


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
            lr_text = _("lr={lr:.3g} during warm-up/decay, peak lr={peak_lr:.3g}").format(
                lr=lr, peak_lr=peak_lr
            )
        else:
            lr_text = f"lr={lr:.3g}"
        hint = hint or _(
            "try a smaller lr (e.g. lr={lr:.3g}); with a TrainConfig also more "
            "warmup_steps or grad_clip=1.0"
        ).format(lr=(peak_lr or lr) / 10)
        super().__init__(
            _("training diverged at step {step} ({lr_text}): {what}; {hint}").format(
                step=step, lr_text=lr_text, what=what, hint=hint
            )
        )


def training_loss(output, targets: torch.Tensor, aux_weight: float = 0.0) -> torch.Tensor:
    """Cross-entropy of ``output``'s logits against ``targets`` (``IGNORE_INDEX`` left out),
    computed in float32, plus ``aux_weight * output.aux_loss`` when the model returns one.

    ``output``: the logits, (B, C) for a classifier or (B, T, V) per token, or an object
    with ``logits`` and ``aux_loss`` (``nn.looped.LoopedOutput``, ``nn.mor.MoROutput``).
    """
    if isinstance(output, torch.Tensor):
        if aux_weight:
            raise ValueError(
                _(
                    "aux_weight={aux_weight} is not allowed: the model returns plain logits, "
                    "with no aux_loss to weigh; use 0.0"
                ).format(aux_weight=repr(aux_weight))
            )
        logits, aux = output, None
    else:
        logits, aux = output.logits, output.aux_loss
    flat = logits.flatten(0, -2).float()  # (B, C) stays; (B, T, V) -> (B*T, V)
    ce = F.cross_entropy(flat, targets.flatten(), ignore_index=IGNORE_INDEX)
    return ce if aux is None else ce + aux_weight * aux


def batch_loss(model: nn.Module, ids: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``training_loss(model(ids), y)``: the loss of one batch, for the measurements of
    notebook 08 (memory, FLOPs, time)."""
    return training_loss(model(ids), y)


def amp_autocast(device: torch.device, amp: bool):
    """bfloat16 autocast on CUDA when ``amp``; elsewhere nothing (CPU float32 is the reference)."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def optimizer_step(
    opt: torch.optim.Optimizer, step: int, lr: float, peak_lr: float | None = None
) -> None:
    """``opt.step()``; an update too large for float32 (a huge lr) raises TrainingDiverged."""
    try:
        opt.step()
    except RuntimeError as err:
        if "overflow" not in str(err):
            raise
        what = _("the optimizer step overflowed ({err})").format(err=err)
        raise TrainingDiverged(step, lr, what, peak_lr=peak_lr) from None


def _divergence(
    losses,
    norms,
    first: int,
    lrs: list[float],
    peak: float | None,
    growth_limit: float | None = LOSS_GROWTH_LIMIT,
) -> TrainingDiverged | None:
    """The error for the first step from ``first`` on whose loss or gradient norm is not
    finite (or, with ``growth_limit``, whose loss is over ``growth_limit`` times that of
    step 0), or None; reads the device tensors once (a single GPU sync)."""
    window = torch.stack([torch.stack(losses[first:]), torch.stack(norms[first:])]).float().cpu()
    finite = torch.isfinite(window)
    if bool(finite.all()):
        if growth_limit is None:
            return None
        start = float(losses[0])  # the untrained model's loss: what training must not exceed
        grown = (window[0] > growth_limit * start).nonzero()
        if start > 0 and len(grown):
            i = int(grown[0, 0])
            what = _(
                "the loss grew from {start:.3g} at step 0 to {loss:.3g} "
                "(over {limit:g}x: finite, but exploding)"
            ).format(start=start, loss=float(window[0, i]), limit=growth_limit)
            return TrainingDiverged(first + i, lrs[first + i], what, peak_lr=peak)
        return None
    i = int((~finite.all(0)).nonzero()[0, 0])
    loss, norm = window[:, i].tolist()
    what = (
        _("the loss is {loss}").format(loss=loss)
        if not math.isfinite(loss)
        else _("the gradient norm is {norm}").format(norm=norm)
    )
    return TrainingDiverged(first + i, lrs[first + i], what, peak_lr=peak)


class DivergenceCheck:
    """The divergence check of one run, fed by ``train_step``: every step's loss, gradient
    norm (detached device tensors) and learning rate, read every ``every`` steps and at
    step ``steps - 1`` (one GPU sync each), before that step's optimizer step.

    ``peak_lr``: the configured learning rate, named in the message when it differs from
    the step's (a schedule); ``growth_limit``: also stop a finite loss above that many times
    step 0's (None: non-finite values only). ``losses`` and ``lrs`` are the run's history.
    """

    def __init__(
        self,
        steps: int | None = None,
        every: int = 1,
        peak_lr: float | None = None,
        growth_limit: float | None = None,
    ):
        self.steps, self.every, self.peak_lr, self.growth_limit = (
            steps,
            every,
            peak_lr,
            growth_limit,
        )
        self.losses: list[torch.Tensor] = []
        self.norms: list[torch.Tensor] = []
        self.lrs: list[float] = []
        self._checked = 0  # steps before this one are known to be finite

    def record(self, lr: float, loss: torch.Tensor, norm: torch.Tensor) -> None:
        """Keep one step's numbers; on a check step raise ``TrainingDiverged`` for the first
        bad step since the last check."""
        self.losses.append(loss)
        self.norms.append(norm)
        self.lrs.append(lr)
        n = len(self.losses)
        if n % self.every == 0 or n == self.steps:
            diverged = _divergence(
                self.losses, self.norms, self._checked, self.lrs, self.peak_lr, self.growth_limit
            )
            if diverged is not None:
                raise diverged
            self._checked = n


def train_step(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    step: int,
    lr: float,
    check: DivergenceCheck | None,
    clip: float | None = None,
    aux_weight: float = 0.0,
    forward: Callable | None = None,
    amp: bool = False,
):
    """One training step of ``model`` on the batch (``x``, ``y``); returns (the loss,
    detached; the model's output).

    Sets every parameter group's learning rate to ``lr`` (the loop's schedule at ``step``),
    runs ``forward(x)`` (default ``model(x)``; bfloat16 autocast on CUDA with ``amp``) and
    ``training_loss`` with ``aux_weight``, back-propagates, clips the global gradient norm to
    ``clip`` (None: measured, not clipped), feeds ``check`` and takes the optimizer step.
    ``check=None`` (only for timing a step) skips the check and, without ``clip``, the norm.
    With sharing, a shared weight's gradient is the sum over its uses: clipping acts on it.
    """
    for group in opt.param_groups:
        group["lr"] = lr
    with amp_autocast(x.device, amp):
        out = (model if forward is None else forward)(x)
        loss = training_loss(out, y, aux_weight)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    elif check is not None:
        norm = torch.nn.utils.get_total_norm(
            [p.grad for p in model.parameters() if p.grad is not None]
        )
    if check is not None:
        check.record(lr, loss.detach(), norm.detach())
    optimizer_step(opt, step, lr, None if check is None else check.peak_lr)
    return loss.detach(), out
