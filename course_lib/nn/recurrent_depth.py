"""Test-time depth (notebook 13, section 2): a prelude -> looped core -> coda model trained
with a random loop count per batch, then run with more loops than it was trained with.

Two papers, at their scale:

- Geiping et al. 2025, *Scaling up Test-Time Compute with Latent Reasoning: A Recurrent
  Depth Approach* ("Huginn", 3.5B parameters, 800B tokens; code
  github.com/seal-rg/recurrent-pretraining): a prelude embeds the input into e, a core
  block is iterated r times on a state s (s <- core(s, e), the input injected at every
  step), a coda reads the last state out. r is drawn at random for every training batch
  (a log-normal Poisson with mean 32), and gradients flow through the last k = 8 steps only.
  At test time r can be raised, and accuracy on reasoning tasks keeps rising.
- Saunshi et al., ICLR 2025, *Reasoning with Latent Thoughts: On the Power of Looped
  Transformers*: a k-layer block looped L times ("k x L") nearly matches a kL-layer model
  on reasoning tasks with k-layer parameters; a 1-layer block looped 32 times reaches
  99.6% on 32-operand addition.

Here: ``loops`` is an argument of ``forward``; the state starts at zero and gets the
prelude's output added before every core step (input injection, no parameters); the core
has no step embedding, so a loop count never seen in training is not out of distribution
by construction. ``n_core`` unique blocks make one loop, so ``n_core=4, loops=1`` is an
unshared 6-layer comparator of the ``n_core=1, loops=4`` model (equal FLOPs, more
parameters) and ``n_core=1, loops=1`` one of equal parameters (fewer FLOPs). Training with
a random loop count per batch is ``course_lib.training.loops.train_recurrent``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from course_lib.config import check_int, reject
from course_lib.i18n import _
from course_lib.nn.checks import check_head_split
from course_lib.nn.layers import block_parameter_count, make_block
from course_lib.nn.variants import sinusoidal_table


def band_mask(t: int, window: int, device=None) -> torch.Tensor:
    """(T, T) boolean, True where query i may see key j: i - window <= j <= i. Information
    then moves at most ``window`` places to the right per block, so the answer at place i
    needs about i / window blocks: depth is the number of steps, by construction."""
    i = torch.arange(t, device=device)
    return (i[None, :] <= i[:, None]) & (i[None, :] >= i[:, None] - window)


def prefix_parity_batch(batch_size: int, length: int, seed: int = 0):
    """(ids, targets), both (B, T) long: random bits, and at every place the parity of the
    bits up to it (a running XOR, the prefix-sum task of Schwarzschild et al. 2021)."""
    check_int("batch_size", batch_size, 1)
    check_int("length", length, 1)
    g = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (batch_size, length), generator=g)
    return bits, bits.cumsum(1) % 2


@dataclass(frozen=True)
class RecurrentDepthConfig:
    """Prelude (``n_prelude`` blocks), core (``n_core`` blocks, looped), coda (``n_coda``)."""

    vocab_size: int = 2  # bits
    d_model: int = 32
    n_heads: int = 4
    d_ff: int = 64
    n_prelude: int = 1
    n_core: int = 1  # unique blocks in one loop (Saunshi's k)
    n_coda: int = 1
    max_len: int = 128  # longest input the sinusoidal table covers (no parameters)
    window: int | None = 1  # a token attends to itself and `window` tokens on its left; None: all

    def __post_init__(self) -> None:
        for f in ("vocab_size", "d_model", "n_heads", "d_ff", "n_prelude", "n_core", "n_coda"):
            check_int(f, getattr(self, f), 1)
        check_int("max_len", self.max_len, 1)
        if self.window is not None:
            check_int("window", self.window, 1)
        check_head_split(self.d_model, self.n_heads)

    def replace(self, **changes) -> RecurrentDepthConfig:
        return RecurrentDepthConfig(**{**self.__dict__, **changes})


def recurrent_parameter_count(cfg: RecurrentDepthConfig) -> int:
    """Embedding + all unique blocks + final norm + head: independent of the loop count."""
    v, d = cfg.vocab_size, cfg.d_model
    blocks = cfg.n_prelude + cfg.n_core + cfg.n_coda
    return v * d + blocks * block_parameter_count(d, cfg.d_ff) + 2 * d + d * v + v


def effective_depth(cfg: RecurrentDepthConfig, loops: int) -> int:
    """Blocks a token passes through: n_prelude + n_core x loops + n_coda (FLOPs scale with it)."""
    return cfg.n_prelude + cfg.n_core * loops + cfg.n_coda


class RecurrentDepthModel(nn.Module):
    """Huginn's shape, small: e = prelude(x); s <- core(s + e) ``loops`` times; coda(s)."""

    def __init__(self, cfg: RecurrentDepthConfig):
        super().__init__()
        self.cfg = cfg

        def blocks(n: int) -> nn.ModuleList:
            return nn.ModuleList(make_block(cfg.d_model, cfg.n_heads, cfg.d_ff) for _ in range(n))

        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.prelude, self.core, self.coda = (
            blocks(cfg.n_prelude),
            blocks(cfg.n_core),
            blocks(cfg.n_coda),
        )
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)
        self.register_buffer("pos", sinusoidal_table(cfg.max_len, cfg.d_model), persistent=False)

    def forward(self, ids: torch.Tensor, loops: int, backprop_loops: int | None = None):
        """(B, T) ids -> (B, T, V) logits after ``loops`` passes of the core. With
        ``backprop_loops`` = k, only the last k loops keep their graph (Huginn's truncation)."""
        check_int("loops", loops, 1)
        if ids.shape[1] > self.cfg.max_len:
            reject(
                "seq_len",
                ids.shape[1],
                _("it must be <= max_len={max_len}").format(max_len=self.cfg.max_len),
            )
        mask = (
            None
            if self.cfg.window is None
            else band_mask(ids.shape[1], self.cfg.window, ids.device)
        )
        e = self.tok_emb(ids) + self.pos[: ids.shape[1]]  # (B, T, d)
        for block in self.prelude:
            e = block(e, mask)
        s = torch.zeros_like(e)  # the latent state
        k = loops if backprop_loops is None else backprop_loops
        for r in range(loops):
            with torch.set_grad_enabled(torch.is_grad_enabled() and r >= loops - k):
                for block in self.core:  # the same n_core blocks in every loop
                    s = block(s + e, mask)  # input injection before every step
        for block in self.coda:
            s = block(s, mask)
        return self.head(self.norm(s))


def sample_loops(mean: float, generator: torch.Generator, spread: str = "poisson") -> int:
    """A training loop count: ``1 + Poisson(mean - 1)`` (mean ``mean``, never below 1), or
    ``mean`` itself with ``spread="fixed"``. Huginn draws from a log-normal Poisson; the
    Poisson keeps the same idea (random, mean fixed, a tail above the mean) in one line."""
    if spread not in ("poisson", "fixed"):
        reject("spread", spread, _("choose 'poisson' or 'fixed'"))
    if isinstance(mean, bool) or not isinstance(mean, int | float) or mean < 1:
        reject("mean", mean, _("it must be a number >= 1"))
    if spread == "fixed":
        if mean != int(mean):
            reject("mean", mean, _("a fixed loop count must be a whole number"))
        return int(mean)
    rate = torch.tensor([float(mean) - 1.0])
    return 1 + int(torch.poisson(rate, generator=generator).item())


@torch.no_grad()
def accuracy_by_loops(model: RecurrentDepthModel, loops: list[int], length: int = 12,
                      n: int = 512, seed: int = 10**6) -> list[dict]:  # fmt: skip
    """Per-place and whole-answer accuracy on the same fresh examples at each loop count."""
    model.eval()
    ids, targets = prefix_parity_batch(n, length, seed)
    rows = []
    for r in loops:
        right = model(ids, r).argmax(-1) == targets  # (n, T)
        rows.append({
            "loops": r,
            "place_accuracy": right.float().mean().item(),
            "sequence_accuracy": right.all(1).float().mean().item(),
            "n_examples": n,
        })  # fmt: skip
    return rows
