"""Sharing schemes beyond the ``ModelConfig.sharing`` names (notebook 05).

Each builder starts from ``build_model(cfg)`` and swaps in another layer stack made of
course_lib pieces (``LayerStack``, ``Block``, ``SharingPlan``), so no model code is copied:

- ``sandwich``: the first and the last layer keep weights of their own, the layers in
  between share (Reid et al. 2021, "Subformer", sandwich-style sharing; compare
  Takase & Kiyono 2021, whose CYCLE-REV also treats the last layers specially).
- ``relaxed``: shared blocks plus a small low-rank (LoRA) delta per layer on every linear
  of attention and FFN, so each depth can differ a little at a cost of r*(in+out)
  parameters per linear (Bae et al. 2024, "Relaxed Recursive Transformers";
  LoRA: Hu et al. 2022).
- ``universal``: one block applied N times, with a timestep embedding added before each
  step (Dehghani et al. 2019, "Universal Transformers"; without their adaptive halting,
  which notebook 09 adds).

``variant_parameter_count`` gives the exact count of each by formula; tests check it
against ``count_parameters`` of the built model.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call

from course_lib.config import ModelConfig
from course_lib.i18n import _
from course_lib.nn.counts import parameter_breakdown
from course_lib.nn.layers import attention_parameter_count, ffn_parameter_count
from course_lib.nn.model import LayerStack, build_model, init_weights
from course_lib.nn.sharing import SharingPlan

VARIANTS = ("sandwich", "relaxed", "universal")
TIMESTEPS = ("learned", "sinusoidal")


def sandwich_plan(n_layers: int, n_middle: int = 1) -> SharingPlan:
    """Layer 0 and layer N-1 own their weights; the N-2 middle layers share ``n_middle`` blocks.

    The middle blocks are laid out like SEQUENCE (consecutive layers share a block).
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 3:
        raise ValueError(
            _("n_layers={n_layers} is not allowed: a sandwich needs n_layers >= 3").format(
                n_layers=repr(n_layers)
            )
        )
    if (
        isinstance(n_middle, bool)
        or not isinstance(n_middle, int)
        or not 1 <= n_middle <= n_layers - 2
    ):
        raise ValueError(
            _("n_middle={n_middle} is not allowed: it must be an integer in [1, {max}]").format(
                n_middle=repr(n_middle), max=n_layers - 2
            )
        )
    inner = n_layers - 2
    middle = [1 + (j * n_middle) // inner for j in range(inner)]  # ids 1 .. n_middle
    ids = (0, *middle, n_middle + 1)
    return SharingPlan("sandwich", ids, ids)


def _swap_stack(model: nn.Module, stack: nn.Module, cfg: ModelConfig) -> nn.Module:
    """Put ``stack`` in place of ``model.stack`` and initialise it like the rest."""
    init_weights(stack, cfg.init)
    model.stack = stack
    return model


def build_sandwich(cfg: ModelConfig, n_middle: int = 1) -> nn.Module:
    """``cfg``'s model with a sandwich stack (``cfg.sharing`` is ignored)."""
    return _swap_stack(
        build_model(cfg), LayerStack(cfg, sandwich_plan(cfg.n_layers, n_middle)), cfg
    )


class LoRADelta(nn.Module):
    """A low-rank change B @ A (out x r times r x in) for one weight matrix (Hu et al. 2022).

    B starts at zero, so at initialisation the relaxed model equals the shared one.
    """

    def __init__(self, d_in: int, d_out: int, rank: int):
        super().__init__()
        self.A = nn.Parameter(torch.randn(rank, d_in) / math.sqrt(d_in))  # (r, in)
        self.B = nn.Parameter(torch.zeros(d_out, rank))  # (out, r)

    def forward(self) -> torch.Tensor:
        return self.B @ self.A  # (out, in), the shape of the weight it changes


LORA_TARGETS = ("attn.fn.q_proj", "attn.fn.k_proj", "attn.fn.v_proj", "attn.fn.out_proj",
                "ffn.fn.fc1", "ffn.fn.fc2")  # fmt: skip


class RelaxedStack(nn.Module):
    """The blocks of a ``LayerStack`` (shared by ``cfg.sharing``) plus one LoRA set per layer.

    Layer i computes its shared block with weights W + B_i A_i on every targeted linear,
    through ``torch.func.functional_call``: the shared module is not copied, only the
    weights it sees at depth i are replaced.
    """

    def __init__(self, cfg: ModelConfig, rank: int):
        super().__init__()
        self.base = LayerStack(cfg)
        first = self.base.layers[0]
        self.lora = nn.ModuleList()
        for _layer in range(cfg.n_layers):
            deltas = {}
            for name in LORA_TARGETS:
                w = first.get_submodule(name).weight  # (out, in)
                deltas[name.replace(".", "_")] = LoRADelta(w.shape[1], w.shape[0], rank)
            self.lora.append(nn.ModuleDict(deltas))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for block, deltas in zip(self.base.layers, self.lora, strict=True):
            weights = {
                f"{name}.weight": block.get_submodule(name).weight
                + deltas[name.replace(".", "_")]()
                for name in LORA_TARGETS
            }
            x = functional_call(block, weights, (x, mask))
        return self.base.final_norm(x)


def build_relaxed(cfg: ModelConfig, rank: int = 4) -> nn.Module:
    """``cfg``'s model (its ``sharing`` plan) with a rank-``rank`` LoRA delta per layer."""
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= cfg.d_model:
        raise ValueError(
            _("rank={rank} is not allowed: it must be an integer in [1, {max}]").format(
                rank=repr(rank), max=cfg.d_model
            )
        )
    return _swap_stack(build_model(cfg), RelaxedStack(cfg, rank), cfg)


def sinusoidal_table(n: int, d: int) -> torch.Tensor:
    """The fixed sin/cos table of Vaswani et al. (2017), (n, d): row t encodes step t."""
    t = torch.arange(n, dtype=torch.float32)[:, None]  # (n, 1)
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float32) / d)
    table = torch.zeros(n, d)
    table[:, 0::2] = torch.sin(t * freq)
    table[:, 1::2] = torch.cos(t * freq[: d // 2])
    return table


class UniversalStack(nn.Module):
    """One block applied ``n_layers`` times; step t first adds timestep embedding t."""

    def __init__(self, cfg: ModelConfig, timestep: str = "learned"):
        super().__init__()
        self.base = LayerStack(cfg.replace(sharing="all", n_blocks=None))  # one block, N uses
        n, d = cfg.n_layers, cfg.d_model
        if timestep == "learned":
            self.step_emb = nn.Parameter(torch.randn(n, d) * 0.02)  # (N, d), N*d parameters
        else:
            self.register_buffer("step_emb", sinusoidal_table(n, d), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for t, block in enumerate(self.base.layers):
            x = block(x + self.step_emb[t], mask)  # (B, T, d) + (d,)
        return self.base.final_norm(x)


def build_universal(cfg: ModelConfig, timestep: str = "learned") -> nn.Module:
    """``cfg``'s model as a Universal Transformer: one shared block, N steps."""
    if timestep not in TIMESTEPS:
        raise ValueError(
            _("timestep={timestep} is not allowed: choose 'learned' or 'sinusoidal'").format(
                timestep=repr(timestep)
            )
        )
    return _swap_stack(build_model(cfg), UniversalStack(cfg, timestep), cfg)


def build_variant(cfg: ModelConfig, variant: str, **options) -> nn.Module:
    """Dispatch by name: ``sandwich`` (n_middle), ``relaxed`` (rank), ``universal`` (timestep)."""
    builders = {"sandwich": build_sandwich, "relaxed": build_relaxed, "universal": build_universal}
    if variant not in builders:
        raise ValueError(
            _("variant={variant} is not allowed: choose one of {values}").format(
                variant=repr(variant), values=", ".join(VARIANTS)
            )
        )
    return builders[variant](cfg, **options)


def lora_parameter_count(cfg: ModelConfig, rank: int) -> int:
    """LoRA parameters of one layer: r*(in+out) per linear, 4 attention + 2 FFN linears."""
    d, ff = cfg.d_model, cfg.d_ff
    return rank * (4 * (d + d) + 2 * (d + ff))


def variant_parameter_count(cfg: ModelConfig, variant: str, **options) -> int:
    """Exact unique parameter count of ``build_variant(cfg, variant, **options)``."""
    bd = parameter_breakdown(cfg)
    outside = bd["embeddings"] + bd["head"] + (2 * cfg.d_model if cfg.norm_first else 0)
    attn, ffn = attention_parameter_count(cfg.d_model), ffn_parameter_count(cfg.d_model, cfg.d_ff)
    if variant == "sandwich":
        plan = sandwich_plan(cfg.n_layers, options.get("n_middle", 1))
        return outside + plan.n_attn * attn + plan.n_ffn * ffn
    if variant == "relaxed":
        plan = SharingPlan.from_config(cfg)
        lora = cfg.n_layers * lora_parameter_count(cfg, options.get("rank", 4))
        return outside + plan.n_attn * attn + plan.n_ffn * ffn + lora
    if variant == "universal":
        learned = options.get("timestep", "learned") == "learned"
        return outside + attn + ffn + (cfg.n_layers * cfg.d_model if learned else 0)
    raise ValueError(
        _("variant={variant} is not allowed: choose one of {values}").format(
            variant=repr(variant), values=", ".join(VARIANTS)
        )
    )
