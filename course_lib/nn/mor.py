"""Mixture-of-Recursions (notebook 13, section 1): one shared block applied up to R times,
and a router that decides, token by token, who goes on.

Bae et al., NeurIPS 2025, *Mixture-of-Recursions: Learning Dynamic Recursive Depths for
Adaptive Token-Level Computation* (code github.com/raymin0223/mixture_of_recursions),
trained decoder LMs of 135M-1.7B parameters and report a new Pareto frontier: at equal
training FLOPs, lower perplexity and better few-shot accuracy than vanilla and plain
recursive baselines. Two routers:

- **expert choice**: at recursion r the router scores every token still in play,
  g = sigmoid(w . h + b), and the top ``capacities[r]`` share of the sentence's tokens go
  on (hierarchical filtering: only a token chosen at r can be chosen at r + 1). The
  compute per recursion is fixed by the capacity, whatever the router learns;
- **token choice**: before the first recursion each token picks its depth in 1..R at once
  (softmax over R, argmax); nothing bounds how many pick R, so a load-balancing loss
  (Switch Transformer's, R x sum_j f_j P_j) pushes the choices to spread.

Every token passes the first recursion (capacity 1, gate 1). A chosen token moves by
h <- h + g (block(h) - h), so the router gets a gradient through g; a token not chosen
keeps its state. At recursion r, attention sees only the tokens chosen at r
(recursion-wise keys and values, as the paper's KV design). ``routing="fixed"`` sends
every token through all R recursions: plain looping, the same unique parameters minus
the router. This module computes every token and masks; FLOPs are counted as if only the
chosen tokens were computed, as the paper's gather does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.config import check_int, reject
from course_lib.data.shipped import PAD_ID
from course_lib.i18n import _
from course_lib.nn.checks import check_head_split
from course_lib.nn.layers import block_parameter_count, make_block
from course_lib.nn.variants import sinusoidal_table

ROUTINGS = ("expert", "token", "fixed")


@dataclass(frozen=True)
class MoRConfig:
    """A sentence classifier whose one block is applied up to ``len(capacities)`` times."""

    vocab_size: int = 4000
    d_model: int = 32
    n_heads: int = 4
    d_ff: int = 64
    n_classes: int = 2
    max_len: int = 32
    routing: str = "expert"
    capacities: tuple[float, ...] = (1.0, 2 / 3, 1 / 3)  # share of tokens at each recursion
    balance_weight: float = 0.01  # token choice: weight of the load-balancing loss

    def __post_init__(self) -> None:
        for f in ("vocab_size", "d_model", "n_heads", "d_ff", "n_classes", "max_len"):
            check_int(f, getattr(self, f), 1)
        check_head_split(self.d_model, self.n_heads)
        if self.routing not in ROUTINGS:
            reject(
                "routing",
                self.routing,
                _("choose one of {values}").format(values=", ".join(map(repr, ROUTINGS))),
            )
        c = tuple(self.capacities)
        if (
            not c
            or c[0] != 1.0
            or any(not 0 < x <= 1 for x in c)
            or list(c) != sorted(c, reverse=True)
        ):
            reject("capacities", c, _("it must start at 1.0 and not increase, each in (0, 1]"))

    @property
    def recursions(self) -> int:
        return len(self.capacities)

    def replace(self, **changes) -> MoRConfig:
        return MoRConfig(**{**self.__dict__, **changes})


def expert_choice_select(scores: torch.Tensor, eligible: torch.Tensor, valid: torch.Tensor,
                         capacity: float) -> torch.Tensor:  # fmt: skip
    """(B, T) bool: in each row the ``ceil(capacity x valid tokens)`` eligible tokens with
    the highest scores (fewer when fewer are eligible). scores float (B, T); eligible and
    valid bool (B, T): still in play, and not padding."""
    k = torch.ceil(capacity * valid.sum(1).to(scores.dtype) - 1e-6).long()  # (B,)
    masked = scores.masked_fill(~eligible, float("-inf"))
    order = masked.argsort(dim=1, descending=True, stable=True)  # (B, T) token indices
    rank = order.argsort(dim=1)  # (B, T): 0 for the highest score
    return eligible & (rank < k[:, None])


@dataclass
class MoROutput:
    logits: torch.Tensor  # (B, n_classes)
    depth: torch.Tensor  # (B, T) long: recursions each token took (0 for padding)
    aux_loss: torch.Tensor  # scalar: token choice's balancing loss, else 0


class MoRClassifier(nn.Module):
    """Embedding -> the one shared block up to R times, routed -> masked mean -> head."""

    def __init__(self, cfg: MoRConfig):
        super().__init__()
        self.cfg = cfg
        d, r = cfg.d_model, cfg.recursions
        self.tok_emb = nn.Embedding(cfg.vocab_size, d)
        self.block = make_block(d, cfg.n_heads, cfg.d_ff)  # ONE block, all recursions
        self.router = {"expert": nn.Linear(d, 1), "token": nn.Linear(d, r)}.get(cfg.routing)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, cfg.n_classes)
        self.register_buffer("pos", sinusoidal_table(cfg.max_len, d), persistent=False)
        self.register_buffer("step", sinusoidal_table(r, d), persistent=False)

    def _token_choice(self, h: torch.Tensor, valid: torch.Tensor):
        """Depth per token (B, T), its gate (B, T) and the balancing loss, chosen once."""
        probs = torch.softmax(self.router(h), dim=-1)  # (B, T, R)
        choice = probs.argmax(-1)  # depth - 1
        gate = probs.gather(-1, choice.unsqueeze(-1)).squeeze(-1)
        v = valid.unsqueeze(-1).to(h.dtype)
        frac = (F.one_hot(choice, self.cfg.recursions) * v).sum((0, 1)) / v.sum()  # f_j
        mean_p = (probs * v).sum((0, 1)) / v.sum()  # P_j
        return (choice + 1) * valid, gate, self.cfg.recursions * (frac * mean_p).sum()

    def forward(self, ids: torch.Tensor) -> MoROutput:
        b, t = ids.shape
        if t > self.cfg.max_len:
            reject(
                "seq_len", t, _("it must be <= max_len={max_len}").format(max_len=self.cfg.max_len)
            )
        valid = ids != PAD_ID  # (B, T)
        h = self.tok_emb(ids) + self.pos[:t]  # (B, T, d)
        aux = h.new_zeros(())
        if self.cfg.routing == "token":
            wanted, tc_gate, aux = self._token_choice(h, valid)
        chosen, depth = valid, torch.zeros_like(ids)
        for r, capacity in enumerate(self.cfg.capacities):
            gate = h.new_ones(b, t)
            if r > 0 and self.cfg.routing == "expert":
                gate = torch.sigmoid(self.router(h)).squeeze(-1)  # (B, T)
                chosen = expert_choice_select(gate.detach(), chosen, valid, capacity)
            elif r > 0 and self.cfg.routing == "token":
                chosen, gate = valid & (wanted > r), tc_gate
            if not chosen.any():
                break
            x = h + self.step[r]
            keys = chosen[:, None, None, :]  # (B, 1, 1, T): attend to this recursion's tokens
            update = self.block(x, keys) - x
            h = torch.where(chosen.unsqueeze(-1), h + gate.unsqueeze(-1) * update, h)
            depth = depth + chosen.long()
        v = valid.unsqueeze(-1).to(h.dtype)
        pooled = (self.norm(h) * v).sum(1) / v.sum(1).clamp(min=1)  # (B, d)
        return MoROutput(self.head(pooled), depth, aux)


def mor_parameter_count(cfg: MoRConfig) -> int:
    """Embedding + one block + router + final norm + head: independent of R."""
    v, d = cfg.vocab_size, cfg.d_model
    router = {"expert": d + 1, "token": d * cfg.recursions + cfg.recursions}.get(cfg.routing, 0)
    return (
        v * d
        + block_parameter_count(d, cfg.d_ff)
        + router
        + 2 * d
        + d * cfg.n_classes
        + cfg.n_classes
    )


def recursion_flops(cfg: MoRConfig, depth: torch.Tensor) -> float:
    """Mean forward FLOPs per sentence in the recursions, counting only the tokens each
    recursion computes: n_r tokens cost 2 n_r (4d^2 + 2 d d_ff) in the matmuls, 4 n_r^2 d
    in attention (keys are the same n_r tokens) and 2 n_r d in the router (if any)."""
    d, ff = cfg.d_model, cfg.d_ff
    router = {"expert": 2 * d, "token": 0}.get(cfg.routing, 0)
    total = torch.zeros(depth.shape[0], dtype=torch.float64)
    for r in range(cfg.recursions):
        n = (depth > r).sum(1).double()  # (B,) tokens computed at recursion r
        total += 2 * n * (4 * d * d + 2 * d * ff) + 4 * n * n * d + (router * n if r > 0 else 0)
    if cfg.routing == "token":
        total += 2 * (depth > 0).sum(1).double() * d * cfg.recursions
    return total.mean().item()


def mean_recursions(depth: torch.Tensor) -> float:
    """Average recursions per real (non-padding) token."""
    return depth[depth > 0].float().mean().item()


def capacity_ok(cfg: MoRConfig, ids: torch.Tensor, depth: torch.Tensor) -> bool:
    """Expert choice: recursion r computed at most ceil(capacities[r] x tokens) per sentence."""
    n_valid = (ids != PAD_ID).sum(1)
    for r, c in enumerate(cfg.capacities):
        limit = torch.tensor([math.ceil(c * n - 1e-6) for n in n_valid.tolist()])
        if ((depth > r).sum(1) > limit).any():
            return False
    return True
