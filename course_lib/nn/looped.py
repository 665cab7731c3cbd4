"""A looped Transformer with Adaptive Computation Time, on algorithmic tasks (notebook 09).

One block, applied again and again: the Universal Transformer (Dehghani et al. 2019).
Before each step the input gets fixed sinusoidal coordinates, position *and* step
number, so the step embedding adds no parameters: the model holds one block whatever
``max_steps`` is. With Adaptive Computation Time (ACT, Graves 2016) every position
decides by itself how many steps it needs:

- after step n a halting unit gives p_n = sigmoid(w . h_n + b) per position;
- a position halts at the first N with p_1 + ... + p_N >= 1 - eps (or at ``max_steps``);
  its last weight is the remainder R = 1 - (p_1 + ... + p_{N-1}), so the weights sum to 1;
- its output is the weighted mean of its states, sum_n w_n h_n; after halting its state is
  copied forward unchanged, so other positions still attend to it;
- the ponder cost rho = N + R is added to the loss (times ``ponder_weight``): R carries the
  gradient that teaches the model to stop early.

Tasks (token tagging; an output slot shows ``BLANK`` in the input and has a target):
``copy`` x -> x, ``reverse`` x -> reversed x, ``addition`` a + b with digits least
significant first, so a carry moves one slot to the right. The model's output carries its
mean ponder cost as ``aux_loss``; training is ``course_lib.training.loops.train_looped``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from course_lib.config import ModelConfig, check_int, reject
from course_lib.i18n import _
from course_lib.nn.checks import check_head_split
from course_lib.nn.layers import block_parameter_count, make_block
from course_lib.nn.model import LayerStack
from course_lib.nn.variants import sinusoidal_table

PAD, SEP, PLUS, BLANK, DIGIT0 = 0, 1, 2, 3, 4  # digits d are tokens DIGIT0 + d
VOCAB_SIZE = DIGIT0 + 10
IGNORE = -100  # target of a position that is only input (training.step.IGNORE_INDEX)
LOOPED_TASKS = ("copy", "reverse", "addition")  # the algorithmic tasks of notebook 09


def task_seq_len(task: str, length: int) -> int:
    """Tokens in one example of ``task`` with ``length`` digits per operand."""
    return 2 * length + 1 if task in ("copy", "reverse") else 3 * length + 3


def algorithmic_batch(task: str, batch_size: int, length: int, seed: int = 0):
    """(ids, targets), both (B, T) long; targets are ``IGNORE`` except at output slots.

    copy/reverse: ids = x SEP BLANK*L, targets at the blanks = x or x reversed.
    addition: ids = a PLUS b SEP BLANK*(L+1), targets = digits of a + b (L+1 of them);
    all numbers are written least significant digit first.
    """
    if task not in LOOPED_TASKS:
        reject(
            "task",
            task,
            _("choose one of {values}").format(values=", ".join(repr(t) for t in LOOPED_TASKS)),
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        reject("seed", seed, _("it must be an integer in [0, 2**63)"))
    for field, value in (("batch_size", batch_size), ("length", length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            reject(field, value, _("it must be an integer >= 1"))
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 10, (batch_size, length), generator=g)  # (B, L) digits
    col = torch.full((batch_size, 1), 0)
    if task == "addition":
        b = torch.randint(0, 10, (batch_size, length), generator=g)
        total, carry = [], torch.zeros(batch_size, dtype=torch.long)
        for i in range(length):  # schoolbook addition, least significant digit first
            s = x[:, i] + b[:, i] + carry
            total.append(s % 10)
            carry = s // 10
        out = torch.stack(total + [carry], dim=1)  # (B, L+1)
        ids = torch.cat(
            [x + DIGIT0, col + PLUS, b + DIGIT0, col + SEP, col.expand(-1, length + 1) + BLANK], 1
        )
        n_in = 2 * length + 2
    else:
        out = x if task == "copy" else x.flip(1)  # (B, L)
        ids = torch.cat([x + DIGIT0, col + SEP, col.expand(-1, length) + BLANK], 1)
        n_in = length + 1
    targets = torch.cat([torch.full((batch_size, n_in), IGNORE), out + DIGIT0], 1)
    return ids, targets


@dataclass(frozen=True)
class LoopedConfig:
    """A looped model: one block of width ``d_model`` applied up to ``max_steps`` times."""

    vocab_size: int = VOCAB_SIZE
    d_model: int = 64
    n_heads: int = 4
    d_ff: int = 256
    max_steps: int = 8
    act: bool = True  # False: always run max_steps (a Universal Transformer without ACT)
    halt_eps: float = 0.01  # Graves' epsilon: halt once the summed p reaches 1 - eps
    halt_bias_init: float = 1.0  # as in Tensor2Tensor's UT: start by halting after a few steps
    ponder_weight: float = 0.01  # tau, the price of one more step in the loss
    max_len: int = 512  # longest input the coordinate table covers (no parameters)
    norm_first: bool = True

    def __post_init__(self) -> None:
        for f in ("vocab_size", "d_model", "n_heads", "d_ff", "max_steps", "max_len"):
            check_int(f, getattr(self, f), 1)
        check_head_split(self.d_model, self.n_heads)
        if not 0 < self.halt_eps < 1:
            reject("halt_eps", self.halt_eps, _("it must be a number in (0, 1)"))
        if self.ponder_weight < 0:
            reject("ponder_weight", self.ponder_weight, _("it must be a number >= 0"))


@dataclass
class LoopedOutput:
    logits: torch.Tensor  # (B, T, V)
    ponder: torch.Tensor  # (B, T): rho = N + R (ACT), else the fixed step count
    halt_weights: torch.Tensor  # (B, T, max_steps): w_n per step, each row sums to 1
    n_updates: torch.Tensor  # (B, T): N, the steps each position took

    @property
    def aux_loss(self) -> torch.Tensor:
        """The mean ponder cost, ACT's auxiliary loss (Graves 2016, eq. 14); the training
        loss adds it times ``ponder_weight`` (``course_lib.training.step.training_loss``)."""
        return self.ponder.mean()


class TokenIO(nn.Module):
    """Token embedding, sinusoidal coordinates (no parameters), final norm and output head."""

    def __init__(self, vocab_size: int, d_model: int, max_len: int, max_steps: int):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.register_buffer("pos", sinusoidal_table(max_len, d_model), persistent=False)
        self.register_buffer("step", sinusoidal_table(max_steps, d_model), persistent=False)

    def coords(self, t: int, n: int) -> torch.Tensor:
        """(T, d): position of every token plus step number n (Dehghani et al., eq. 4)."""
        return self.pos[:t] + self.step[n]

    def parameter_count(self) -> int:
        v, d = self.tok_emb.weight.shape
        return v * d + 2 * d + d * v + v


class LoopedTransformer(nn.Module):
    """``block`` applied up to ``max_steps`` times with ACT halting per position."""

    def __init__(self, cfg: LoopedConfig):
        super().__init__()
        self.cfg = cfg
        self.io = TokenIO(cfg.vocab_size, cfg.d_model, cfg.max_len, cfg.max_steps)
        self.block = make_block(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.norm_first)  # ONE block
        self.halt = nn.Linear(cfg.d_model, 1)  # the halting unit, d + 1 parameters
        nn.init.constant_(self.halt.bias, cfg.halt_bias_init)

    def forward(self, ids: torch.Tensor) -> LoopedOutput:
        b, t = ids.shape
        if t > self.cfg.max_len:
            reject(
                "seq_len", t, _("it must be <= max_len={max_len}").format(max_len=self.cfg.max_len)
            )
        s = self.cfg.max_steps
        h = self.io.tok_emb(ids)  # (B, T, d)
        cum = h.new_zeros(b, t)  # summed halting weights so far
        running = torch.ones(b, t, dtype=torch.bool, device=ids.device)
        n_updates, remainder = h.new_zeros(b, t), h.new_zeros(b, t)
        out, weights = torch.zeros_like(h), []
        for n in range(s):
            new = self.block(h + self.io.coords(t, n))  # (B, T, d), same block every step
            if self.cfg.act:
                p = torch.sigmoid(self.halt(new)).squeeze(-1)  # (B, T)
                halting = running & ((cum + p >= 1 - self.cfg.halt_eps) | (n == s - 1))
                w = torch.where(halting, 1 - cum, p) * running  # remainder R when halting
                remainder = torch.where(halting, 1 - cum, remainder)
            else:
                halting = running & (n == s - 1)
                w = halting.to(h.dtype)
            n_updates = n_updates + running
            cum = cum + w
            out = out + w.unsqueeze(-1) * new  # ACT's weighted mean of states
            h = torch.where(running.unsqueeze(-1), new, h)  # halted positions keep their state
            weights.append(w)
            running = running & ~halting
            if not running.any():
                break
        weights += [torch.zeros_like(cum)] * (s - len(weights))
        ponder = n_updates + remainder if self.cfg.act else n_updates
        logits = self.io.head(self.io.norm(out))  # (B, T, V)
        return LoopedOutput(logits, ponder, torch.stack(weights, -1), n_updates)


def looped_parameter_count(cfg: LoopedConfig) -> int:
    """One block + the halting unit + embeddings and head: independent of ``max_steps``."""
    v, d = cfg.vocab_size, cfg.d_model
    return block_parameter_count(d, cfg.d_ff) + (d + 1) + v * d + 2 * d + d * v + v


class UnsharedEncoder(nn.Module):
    """The comparator: ``n_layers`` blocks of their own, fixed depth, no halting."""

    def __init__(self, vocab_size: int, d_model: int, n_heads: int, d_ff: int, n_layers: int,
                 max_len: int = 512):  # fmt: skip
        super().__init__()
        self.io = TokenIO(vocab_size, d_model, max_len, 1)
        cfg = ModelConfig(vocab_size=vocab_size, d_model=d_model, n_heads=n_heads, d_ff=d_ff,
                          n_layers=n_layers, max_len=max_len)  # fmt: skip
        self.stack = LayerStack(cfg)  # sharing "none"; its final LayerNorm is io.norm's twin
        self.stack.final_norm = nn.Identity()
        self.n_layers = n_layers

    def forward(self, ids: torch.Tensor) -> LoopedOutput:
        b, t = ids.shape
        if t > len(self.io.pos):
            reject(
                "seq_len", t, _("it must be <= max_len={max_len}").format(max_len=len(self.io.pos))
            )
        h = self.stack(self.io.tok_emb(ids) + self.io.coords(t, 0))  # (B, T, d)
        steps = h.new_full((b, t), float(self.n_layers))
        weights = h.new_ones(b, t, 1)
        return LoopedOutput(self.io.head(self.io.norm(h)), steps, weights, steps)


def build_unshared_comparator(cfg: LoopedConfig, n_layers: int) -> UnsharedEncoder:
    """An unshared ``n_layers``-deep model with the looped model's parameter count (+-0.5%).

    Depth costs parameters when nothing is shared, so the model gets narrower: for every
    width d' (a multiple of 2 * n_heads, at most d) we solve for the d_ff' that matches
    ``looped_parameter_count(cfg)``, and keep the d' whose d_ff' / d' is closest to
    d_ff / d among those that match within 0.5%.
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        reject("n_layers", n_layers, _("it must be an integer >= 1"))
    target, v, ratio = looped_parameter_count(cfg), cfg.vocab_size, cfg.d_ff / cfg.d_model
    options = []  # (distance from the original shape, d', d_ff')
    for d in range(2 * cfg.n_heads, cfg.d_model + 1, 2 * cfg.n_heads):
        rest = 2 * v * d + 2 * d + v + n_layers * (4 * d * d + 9 * d)  # all but the d_ff terms
        ff = round((target - rest) / (n_layers * (2 * d + 1)))  # each block: d_ff * (2d + 1)
        count = rest + n_layers * ff * (2 * d + 1)
        if ff >= 1 and abs(count - target) <= 0.005 * target:
            options.append((abs(ff / d - ratio), d, ff))
    if not options:
        reject(
            "n_layers",
            n_layers,
            _("no unshared {n_layers}-layer model matches {target:,} parameters").format(
                n_layers=n_layers, target=target
            ),
        )
    d, ff = min(options)[1:]
    return UnsharedEncoder(v, d, cfg.n_heads, ff, n_layers, cfg.max_len)


@torch.no_grad()
def evaluate_looped(model: nn.Module, task: str, length: int, n: int = 256, seed: int = 10**6):
    """Accuracy on fresh examples of ``length`` digits: per digit, per whole answer, and steps."""
    model.eval()
    device = next(model.parameters()).device
    ids, targets = (t.to(device) for t in algorithmic_batch(task, n, length, seed))
    out = model(ids)
    slots = targets != IGNORE
    right = (out.logits.argmax(-1) == targets) | ~slots
    return {
        "length": length,
        "digit_accuracy": right[slots].float().mean().item(),
        "sequence_accuracy": right.all(1).float().mean().item(),
        "mean_steps": out.n_updates[slots].mean().item(),
    }
