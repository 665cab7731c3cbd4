"""Sharing plans: which attention weights and which FFN weights each layer uses.

A plan is plain data: for layer i = 0 … N-1, ``attn_ids[i]`` and ``ffn_ids[i]`` name the
weight set that layer uses. Layers with the same id get the *same module object* when
``course_lib.nn.model`` builds the stack, so sharing is visible in one loop, never hidden
index arithmetic in ``forward``. ``describe()`` is the plan as text;
``course_lib.views.model_figures.plot_plan(plan)`` draws it.

Strategies (notebooks 04 and 05):
- ALBERT (Lan et al. 2020): ``none``, ``all``, ``attention`` (attention shared, each
  layer its own FFN), ``ffn`` (the reverse).
- Takase & Kiyono (2021), N layers from M distinct blocks:
  ``sequence`` i -> floor(i*M/N) (each block used for consecutive layers; with N = 2M it
  is MobileLLM's immediate block-wise repetition), ``cycle`` i -> i mod M, and
  ``cycle_rev``: i mod M for the first rounds, the last round in reverse order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from course_lib.config import SHARING_STRATEGIES, ModelConfig
from course_lib.i18n import _


def block_index(strategy: str, i: int, n_layers: int, n_blocks: int) -> int:
    """The block id that layer ``i`` uses under ``strategy`` (N = n_layers, M = n_blocks)."""
    if strategy == "sequence":
        return (i * n_blocks) // n_layers
    if strategy == "cycle":
        return i % n_blocks
    if strategy == "cycle_rev":
        full_rounds = math.ceil(n_layers / n_blocks) - 1
        if i < full_rounds * n_blocks:
            return i % n_blocks
        return n_blocks - 1 - (i % n_blocks)
    raise ValueError(
        _("strategy={strategy} has no block map; use sequence, cycle or cycle_rev").format(
            strategy=repr(strategy)
        )
    )


@dataclass(frozen=True)
class SharingPlan:
    """Layer -> weight-set ids for the attention and the feed-forward sublayers."""

    strategy: str
    attn_ids: tuple[int, ...]
    ffn_ids: tuple[int, ...]

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> SharingPlan:
        return cls.make(cfg.sharing, cfg.n_layers, cfg.n_blocks)

    @classmethod
    def make(cls, strategy: str, n_layers: int, n_blocks: int | None = None) -> SharingPlan:
        """Build the plan for a named strategy (validated like ``ModelConfig``)."""
        ModelConfig(sharing=strategy, n_layers=n_layers, n_blocks=n_blocks)  # validates
        layers = range(n_layers)
        own = tuple(layers)
        zero = (0,) * n_layers
        if strategy == "none":
            return cls(strategy, own, own)
        if strategy == "all":
            return cls(strategy, zero, zero)
        if strategy == "attention":
            return cls(strategy, zero, own)
        if strategy == "ffn":
            return cls(strategy, own, zero)
        assert strategy in SHARING_STRATEGIES and n_blocks is not None
        ids = tuple(block_index(strategy, i, n_layers, n_blocks) for i in layers)
        return cls(strategy, ids, ids)

    @property
    def n_layers(self) -> int:
        return len(self.attn_ids)

    @property
    def n_attn(self) -> int:
        """How many distinct attention weight sets the plan holds."""
        return len(set(self.attn_ids))

    @property
    def n_ffn(self) -> int:
        """How many distinct feed-forward weight sets the plan holds."""
        return len(set(self.ffn_ids))

    def uses(self) -> dict[str, dict[int, list[int]]]:
        """For each weight set, the layers that use it: {"attn": {id: [layers]}, "ffn": ...}."""
        out: dict[str, dict[int, list[int]]] = {"attn": {}, "ffn": {}}
        for i, (a, f) in enumerate(zip(self.attn_ids, self.ffn_ids, strict=True)):
            out["attn"].setdefault(a, []).append(i)
            out["ffn"].setdefault(f, []).append(i)
        return out

    def describe(self) -> str:
        """A text table: one line per layer naming the weights it uses."""
        lines = [
            f"plan {self.strategy!r}: {self.n_layers} layers, "
            f"{self.n_attn} attention + {self.n_ffn} FFN weight sets"
        ]
        for i, (a, f) in enumerate(zip(self.attn_ids, self.ffn_ids, strict=True)):
            lines.append(f"  layer {i:2d}: attention A{a}  ffn F{f}")
        return "\n".join(lines)
