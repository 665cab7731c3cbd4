"""What a sharing setting holds, in numbers and text: the pure side of the explorer (notebook 04).

``explore(...)`` turns the sharing explorer's settings into an ``ExplorerView``: the
``ModelConfig``, its ``SharingPlan``, unique and per-use parameter counts, fp32 parameter
memory and a layer -> weights table, or an error message naming the field. It never
raises for a bad setting, sizes too large for PyTorch included. The counts are taken on
modules built on PyTorch's ``meta`` device (shapes, no memory), ``_counts``: so ALBERT
sizes and N = 1,000 layers take milliseconds. N is capped at ``MAX_LAYERS``.

The ALBERT switches ``share_attention`` / ``share_ffn`` (Lan et al. 2020) are a second
view of ``sharing``: (False, False) is ``none``, (True, True) ``all``, (True, False)
``attention``, (False, True) ``ffn``. SEQUENCE / CYCLE / CYCLE-REV (Takase & Kiyono 2021)
share whole blocks, so with them both switches are on; ``check_switches`` refuses a
switch that contradicts the strategy.

No widget library here: ``course_lib.views.explorer.SharingExplorer`` shows these views,
and exercises and tests call ``explore`` without ipywidgets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from course_lib.config import BLOCK_STRATEGIES, ModelConfig
from course_lib.i18n import _
from course_lib.nn.counts import count_parameters, count_parameters_per_use
from course_lib.nn.model import build_model
from course_lib.nn.sharing import SharingPlan

SWITCHES = {
    "none": (False, False),
    "all": (True, True),
    "attention": (True, False),
    "ffn": (False, True),
}
BYTES_FP32 = 4
MAX_STORAGE_BYTES = 2**63 - 1  # PyTorch counts a tensor's bytes in a signed 64-bit integer
SIZE_FIELDS = ("vocab_size", "d_model", "n_heads", "d_ff", "embed_dim", "max_len")
MAX_LAYERS = 1000  # the table and the plan list every layer; deeper: formula_parameter_count


def strategy_from_switches(share_attention: bool, share_ffn: bool) -> str:
    """The ALBERT strategy the two switches describe."""
    return {v: k for k, v in SWITCHES.items()}[(bool(share_attention), bool(share_ffn))]


def switches_of(strategy: str) -> tuple[bool, bool]:
    """(share_attention, share_ffn) for a strategy; block strategies share both."""
    return SWITCHES.get(strategy, (True, True))


@dataclass(frozen=True)
class ExplorerView:
    """Everything the sharing explorer shows for one setting."""

    config: ModelConfig | None
    plan: SharingPlan | None
    unique_params: int | None  # each shared tensor once: what is stored
    per_use_params: int | None  # once per use: what the computation touches
    param_mb: float | None  # unique parameters x 4 bytes (fp32), in MB (10^6 bytes)
    table: str  # layer -> weights, one line per layer
    error: str | None  # the message naming the bad field, or None

    def summary(self) -> str:
        if self.error:
            return _("not a valid model: {error}").format(error=self.error)
        return _(
            "{sharing}: {unique:,} unique parameters ({mb:.2f} MB fp32), {per_use:,} per use"
        ).format(
            sharing=self.config.sharing,
            unique=self.unique_params,
            mb=self.param_mb,
            per_use=self.per_use_params,
        )


def explore(
    strategy: str = "all", n_layers: int = 12, n_blocks: int | None = None,
    share_attention: bool | None = None, share_ffn: bool | None = None,
    embed_dim: int | None = None, tie_embeddings: bool = False, d_model: int = 256,
    n_heads: int = 4, d_ff: int = 1024, vocab_size: int = 1000, task: str = "classify",
    max_len: int = 128,
) -> ExplorerView:  # fmt: skip
    """What a model with these settings holds; never raises for a bad setting (the
    view's ``error`` names the field), sizes too large for PyTorch included.

    ``share_attention`` / ``share_ffn`` left as None follow ``strategy``; given, they
    must be bools that agree with it (the widget keeps them in step).
    """
    try:
        cfg = ModelConfig(
            vocab_size=vocab_size, d_model=d_model, n_heads=n_heads, d_ff=d_ff,
            n_layers=n_layers, sharing=strategy,
            n_blocks=n_blocks if strategy in BLOCK_STRATEGIES else None,
            max_len=max_len, task=task, embed_dim=embed_dim, tie_embeddings=tie_embeddings,
        )  # fmt: skip
        check_switches(strategy, share_attention, share_ffn)
        _check_depth(cfg.n_layers)
        _check_storage(cfg)
        plan = SharingPlan.from_config(cfg)
        unique, per_use = _counts(cfg, plan)
    except ValueError as e:
        return ExplorerView(None, None, None, None, None, "", str(e))
    except (RuntimeError, TypeError, OverflowError) as e:  # torch's own size checks
        sizes = ", ".join(f"{k}={getattr(cfg, k)!r}" for k in SIZE_FIELDS)
        error = f"{sizes} are not allowed together: PyTorch cannot hold these sizes ({e})"
        return ExplorerView(None, None, None, None, None, "", error.splitlines()[0])
    return ExplorerView(
        cfg, plan, unique, per_use, unique * BYTES_FP32 / 1e6, plan.describe(), None
    )


def _counts(cfg: ModelConfig, plan: SharingPlan) -> tuple[int, int]:
    """(unique, per-use) parameters of ``build_model(cfg)``, counted on built modules: a
    one-layer model, plus one attention (FFN) sublayer for each further attention (FFN)
    weight set of the plan, or for each further layer when counted per use (building
    all N blocks takes seconds at N = 1,000, even on the meta device)."""
    with torch.device("meta"):  # shapes only: no memory, exact counts
        one = build_model(cfg.replace(n_layers=1, sharing="none", n_blocks=None))
    block = one.stack.layers[0]
    attn, ffn = count_parameters(block.attn), count_parameters(block.ffn)
    unique = count_parameters(one) + (plan.n_attn - 1) * attn + (plan.n_ffn - 1) * ffn
    per_use = count_parameters_per_use(one) + (plan.n_layers - 1) * (attn + ffn)
    return unique, per_use


def _check_depth(n_layers: int) -> None:
    if n_layers > MAX_LAYERS:
        raise ValueError(
            _(
                "n_layers={n_layers} is not allowed in the explorer: it lists every layer, "
                "at most {max:,}; count a deeper model with "
                "course_lib.formula_parameter_count(ModelConfig(...))"
            ).format(n_layers=repr(n_layers), max=MAX_LAYERS)
        )


def check_switches(strategy: str, share_attention: bool | None, share_ffn: bool | None) -> None:
    expected = switches_of(strategy)
    for field, value, want in (("share_attention", share_attention, expected[0]),
                               ("share_ffn", share_ffn, expected[1])):  # fmt: skip
        if value is not None and not isinstance(value, bool):
            raise ValueError(
                _("{field}={value} is not allowed: give True, False or None").format(
                    field=field, value=repr(value)
                )
            )
        if value is None or value == want:
            continue
        if strategy in BLOCK_STRATEGIES:
            reason = _(
                "sequence, cycle and cycle_rev share whole blocks (both switches on); "
                "to share attention or FFN alone pick sharing='attention' or 'ffn'"
            )
        else:
            reason = _("it means share_attention={attention}, share_ffn={ffn}").format(
                attention=expected[0], ffn=expected[1]
            )
        raise ValueError(
            _("{field}={value} is not allowed with sharing={strategy}: {reason}").format(
                field=field, value=repr(bool(value)), strategy=repr(strategy), reason=reason
            )
        )


def _check_storage(cfg: ModelConfig) -> None:
    """A ValueError naming the sizes of a weight whose fp32 storage is more bytes than
    PyTorch can count (a signed 64-bit number): building it would raise deep in torch."""
    e = "embed_dim" if cfg.embed_dim else "d_model"
    for a, b in (("vocab_size", e), ("max_len", e), ("max_len", "d_model"), (e, "d_model"),
                 ("d_model", "d_model"), ("d_model", "d_ff")):  # fmt: skip
        rows, cols = getattr(cfg, a), getattr(cfg, b)
        if rows * cols * BYTES_FP32 > MAX_STORAGE_BYTES:
            pair = (
                f"{a}={rows!r}"
                if a == b
                else _("{a}={rows} with {b}={cols}").format(
                    a=a, rows=repr(rows), b=b, cols=repr(cols)
                )
            )
            raise ValueError(
                _(
                    "{pair} is not allowed: a {rows} x {cols} weight takes "
                    "{nbytes:.3g} bytes at fp32, more than PyTorch can store "
                    "({limit:.3g}); make the sizes smaller"
                ).format(
                    pair=pair,
                    rows=rows,
                    cols=cols,
                    nbytes=rows * cols * BYTES_FP32,
                    limit=MAX_STORAGE_BYTES + 1,
                )
            )
