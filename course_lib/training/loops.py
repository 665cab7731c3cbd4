"""The training loops of the looped models: notebook 09's Universal Transformer with ACT and
notebook 13's recurrent-depth model, each step ``course_lib.training.step.train_step``.

- ``train_looped`` (notebook 09): AdamW on fresh batches of an algorithmic task
  (``nn.looped.algorithmic_batch``: copy, reverse, addition), each batch of one length;
  the loss adds ACT's ponder cost times ``ponder_weight`` (Graves 2016, eq. 14; Dehghani et
  al. 2019, the Universal Transformer), the model's ``aux_loss``.
- ``train_recurrent`` (notebook 13): AdamW on fresh prefix-parity batches, every batch run
  with its own loop count (``nn.recurrent_depth.sample_loops``), as Huginn is trained
  (Geiping et al. 2025), optionally back-propagating through the last loops only.

Both clip the gradient norm to 1 and stop with ``TrainingDiverged`` at the first non-finite
loss or gradient norm, naming the step and the learning rate, before its optimizer step.
The models live in ``course_lib.nn``; only their training is here.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from course_lib.config import MAX_SEED, check_int, reject
from course_lib.i18n import _
from course_lib.nn.looped import algorithmic_batch
from course_lib.nn.recurrent_depth import RecurrentDepthModel, prefix_parity_batch, sample_loops
from course_lib.training.step import DivergenceCheck, train_step

CLIP = 1.0  # the gradient-norm limit of both loops


def _check_lengths(lengths) -> tuple[int, int]:
    if not isinstance(lengths, tuple | list) or len(lengths) != 2:
        reject("lengths", lengths, _("it must be (lo, hi) with 1 <= lo <= hi"))
    lo, hi = lengths
    if not 1 <= lo <= hi:
        reject("lengths", lengths, _("it must be (lo, hi) with 1 <= lo <= hi"))
    return lo, hi


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        reject("seed", seed, _("it must be an integer in [0, {max}]").format(max=MAX_SEED))


def train_looped(
    model: nn.Module,
    task: str,
    steps: int = 300,
    batch_size: int = 32,
    lengths: tuple[int, int] = (1, 6),
    lr: float = 3e-3,
    seed: int = 0,
    ponder_weight: float | None = None,
) -> dict[str, list[float]]:
    """AdamW on fresh batches, each of one length drawn from ``lengths`` (inclusive).

    ``ponder_weight``: the weight of the ponder cost (default: ``model.cfg.ponder_weight``,
    0 for a model without one). Returns the loss and the mean ponder cost of every step.
    Stops with ``course_lib.training.step.TrainingDiverged`` at the first non-finite loss or
    gradient norm, naming the step and the learning rate.
    """
    lo, hi = _check_lengths(lengths)
    for field, value in (("steps", steps), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            reject(field, value, _("it must be an integer >= 1"))
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr < float("inf"):
        reject("lr", lr, _("it must be a finite number > 0"))
    _check_seed(seed)
    tau = (
        getattr(getattr(model, "cfg", None), "ponder_weight", 0.0)
        if ponder_weight is None
        else ponder_weight
    )
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"loss": [], "ponder": []}
    check = DivergenceCheck(steps)
    model.train()
    device = next(model.parameters()).device  # batches are made on the CPU, then moved
    for step in range(steps):
        length = int(torch.randint(lo, hi + 1, (1,), generator=g))
        batch = algorithmic_batch(task, batch_size, length, seed=seed * 100_003 + step)
        ids, targets = (t.to(device) for t in batch)
        loss, out = train_step(
            model, opt, ids, targets, step=step, lr=lr, check=check, clip=CLIP, aux_weight=tau
        )
        history["loss"].append(loss.item())
        history["ponder"].append(out.ponder.mean().item())
    return history


def train_recurrent(
    model: RecurrentDepthModel,
    steps: int = 300,
    batch_size: int = 64,
    lengths: tuple[int, int] = (8, 12),
    mean_loops: float = 4,
    spread: str = "poisson",
    backprop_loops: int | None = None,
    lr: float = 3e-3,
    seed: int = 0,
) -> dict[str, list]:
    """AdamW on fresh prefix-parity batches, each of one length drawn from ``lengths``;
    every batch draws its loop count with ``sample_loops(mean_loops, ..., spread)`` and
    back-propagates through the last ``backprop_loops`` loops (None: all). Returns the loss
    and the loop count of each step, so a test can see that the depth really varied. Stops
    with ``TrainingDiverged`` at the first non-finite loss or gradient norm."""
    check_int("steps", steps, 1)
    check_int("batch_size", batch_size, 1)
    _check_seed(seed)
    lo, hi = lengths
    if not 1 <= lo <= hi:
        reject("lengths", lengths, _("it must be (lo, hi) with 1 <= lo <= hi"))
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    history: dict[str, list] = {"loss": [], "loops": []}
    check = DivergenceCheck(steps)
    model.train()
    for step in range(steps):
        loops = sample_loops(mean_loops, g, spread)
        length = int(torch.randint(lo, hi + 1, (1,), generator=g))
        ids, targets = prefix_parity_batch(batch_size, length, seed=seed * 100_003 + step)
        run = functools.partial(model, loops=loops, backprop_loops=backprop_loops)  # (B, T, 2)
        loss, _unused = train_step(
            model, opt, ids, targets, step=step, lr=lr, check=check, clip=CLIP, forward=run
        )
        history["loss"].append(loss.item())
        history["loops"].append(loops)
    return history
