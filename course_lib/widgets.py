"""Widgets of the course, thin views over pure functions (notebooks 04 and 06).

- ``explore(...)`` (pure) turns explorer settings into an ``ExplorerView``: the config,
  its ``SharingPlan``, unique and per-use parameter counts (counted on the model itself,
  built on PyTorch's ``meta`` device so even ALBERT sizes take milliseconds), fp32
  parameter memory and a layer -> weights table, or an error message naming the field.
  ``SharingExplorer`` wires controls (one per ``ModelConfig`` field) to it.
- ``TrainingPanel`` (notebook 06) lives in ``course_lib.training_panel`` and is imported
  here too, so ``from course_lib.widgets import TrainingPanel`` keeps working.

The ALBERT switches ``share_attention`` / ``share_ffn`` (Lan et al. 2020) are a second
view of ``sharing``: (False, False) is ``none``, (True, True) ``all``, (True, False)
``attention``, (False, True) ``ffn``. SEQUENCE / CYCLE / CYCLE-REV (Takase & Kiyono 2021)
share whole blocks, so with them both switches are on.

Figures go into ``Output`` widgets as PNG display data, so tests read what is shown
(``w.plot_out.outputs``, ``w.count_label.value``) without a browser.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import torch
from traitlets import TraitError

from .config import SHARING_STRATEGIES, TASKS, ModelConfig
from .measure import count_parameters, count_parameters_per_use
from .model import build_model
from .plots import new_figure, png_output
from .sharing import SharingPlan

BLOCK_STRATEGIES = ("sequence", "cycle", "cycle_rev")
SWITCHES = {
    "none": (False, False),
    "all": (True, True),
    "attention": (True, False),
    "ffn": (False, True),
}
BYTES_FP32 = 4


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
            return f"not a valid model: {self.error}"
        return (
            f"{self.config.sharing}: {self.unique_params:,} unique parameters "
            f"({self.param_mb:.2f} MB fp32), {self.per_use_params:,} per use"
        )


def explore(
    strategy: str = "all",
    n_layers: int = 12,
    n_blocks: int | None = None,
    share_attention: bool | None = None,
    share_ffn: bool | None = None,
    embed_dim: int | None = None,
    tie_embeddings: bool = False,
    d_model: int = 256,
    n_heads: int = 4,
    d_ff: int = 1024,
    vocab_size: int = 1000,
    task: str = "classify",
    max_len: int = 128,
) -> ExplorerView:
    """What a model with these settings holds; never raises for a bad setting.

    ``share_attention`` / ``share_ffn`` left as None follow ``strategy``; given, they
    must agree with it (the widget keeps them in step).
    """
    try:
        cfg = ModelConfig(
            vocab_size=vocab_size, d_model=d_model, n_heads=n_heads, d_ff=d_ff,
            n_layers=n_layers, sharing=strategy,
            n_blocks=n_blocks if strategy in BLOCK_STRATEGIES else None,
            max_len=max_len, task=task, embed_dim=embed_dim, tie_embeddings=tie_embeddings,
        )  # fmt: skip
        _check_switches(strategy, share_attention, share_ffn)
    except ValueError as e:
        return ExplorerView(None, None, None, None, None, "", str(e))
    with torch.device("meta"):  # shapes only: no memory, no time, exact counts
        model = build_model(cfg)
    unique = count_parameters(model)
    plan = SharingPlan.from_config(cfg)
    return ExplorerView(
        cfg, plan, unique, count_parameters_per_use(model), unique * BYTES_FP32 / 1e6,
        plan.describe(), None,
    )  # fmt: skip


def _check_switches(strategy: str, share_attention: bool | None, share_ffn: bool | None) -> None:
    expected = switches_of(strategy)
    for field, value, want in (("share_attention", share_attention, expected[0]),
                               ("share_ffn", share_ffn, expected[1])):  # fmt: skip
        if value is None or bool(value) == want:
            continue
        if strategy in BLOCK_STRATEGIES:
            reason = (
                "sequence, cycle and cycle_rev share whole blocks (both switches on); "
                "to share attention or FFN alone pick sharing='attention' or 'ffn'"
            )
        else:
            reason = f"it means share_attention={expected[0]}, share_ffn={expected[1]}"
        raise ValueError(
            f"{field}={bool(value)!r} is not allowed with sharing={strategy!r}: {reason}"
        )


def _set_control(name: str, control: W.ValueWidget, value: Any) -> None:
    """``control.value = value``, or a ValueError naming the field and what it accepts
    (a slider would silently clamp, a dropdown would raise a traitlets error)."""
    if isinstance(control, W.Dropdown) and value not in control.options:
        allowed = ", ".join(repr(o) for o in control.options)
        raise ValueError(f"{name}={value!r} is not allowed: choose one of {allowed}")
    if isinstance(control, W.IntSlider) and (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not control.min <= value <= control.max
    ):
        raise ValueError(
            f"{name}={value!r} is not allowed: the slider takes integers {control.min} to {control.max}"
        )
    try:
        control.value = value
    except TraitError as err:
        raise ValueError(f"{name}={value!r} is not allowed: {err}") from None


class SharingExplorer(W.VBox):
    """Strategy, depth and sizes in; layer -> weights diagram, counts and memory out."""

    def __init__(self, **settings: Any):
        s = {"strategy": "cycle", "n_layers": 12, "n_blocks": 3, "embed_dim": 256,
             "tie_embeddings": False, "d_model": 256, "n_heads": 4, "d_ff": 1024,
             "vocab_size": 1000, "task": "classify", **settings}  # fmt: skip
        lay = W.Layout(width="300px")
        self.strategy = W.Dropdown(
            options=SHARING_STRATEGIES, value=s["strategy"], description="sharing", layout=lay
        )
        att, ffn = switches_of(s["strategy"])
        self.share_attention = W.Checkbox(value=att, description="share attention")
        self.share_ffn = W.Checkbox(value=ffn, description="share FFN")
        self.n_layers = W.IntSlider(
            value=s["n_layers"], min=1, max=24, description="n_layers (N)", continuous_update=False
        )
        self.n_blocks = W.IntSlider(
            value=s["n_blocks"], min=1, max=24, description="n_blocks (M)", continuous_update=False
        )
        self.task = W.Dropdown(options=TASKS, value=s["task"], description="task", layout=lay)
        self.tie_embeddings = W.Checkbox(value=s["tie_embeddings"], description="tie_embeddings")
        self.sizes = {name: W.IntText(value=s[name], description=name, layout=lay)
                      for name in ("d_model", "n_heads", "d_ff", "vocab_size", "embed_dim")}  # fmt: skip
        self.message = W.HTML()
        self.count_label = W.Label()
        self.per_use_label = W.Label()
        self.memory_label = W.Label()
        self.plot_out = W.Output()
        self.table = W.HTML()
        self.view: ExplorerView | None = None
        self._syncing = False
        self._quiet = False  # True while set() changes several controls
        controls = W.VBox([self.strategy, W.HBox([self.share_attention, self.share_ffn]),
                           self.n_layers, self.n_blocks, self.task, self.tie_embeddings,
                           *self.sizes.values()])  # fmt: skip
        readout = W.VBox(
            [self.message, self.count_label, self.per_use_label, self.memory_label, self.plot_out]
        )
        super().__init__([W.HBox([controls, readout]), self.table])
        self.strategy.observe(self._on_strategy, "value")
        for box in (self.share_attention, self.share_ffn):
            box.observe(self._on_switch, "value")
        for w in (
            self.n_layers,
            self.n_blocks,
            self.task,
            self.tie_embeddings,
            *self.sizes.values(),
        ):
            w.observe(lambda _change: self.update(), "value")  # fmt: skip
        self.update()

    def _on_strategy(self, change) -> None:
        self._syncing = True  # the switches follow the dropdown without re-triggering
        self.share_attention.value, self.share_ffn.value = switches_of(change["new"])
        self._syncing = False
        self.update()

    def _on_switch(self, _change) -> None:
        if self._syncing:
            return
        if self.strategy.value in SWITCHES:  # ALBERT switches pick none/all/attention/ffn
            new = strategy_from_switches(self.share_attention.value, self.share_ffn.value)
            if new != self.strategy.value:
                self.strategy.value = new  # _on_strategy redraws
                return
        self.update()

    def settings(self) -> dict[str, Any]:
        """The controls' values as ``explore`` keyword arguments."""
        return dict(
            strategy=self.strategy.value, n_layers=self.n_layers.value, n_blocks=self.n_blocks.value,
            share_attention=self.share_attention.value, share_ffn=self.share_ffn.value,
            tie_embeddings=self.tie_embeddings.value, task=self.task.value,
            **{name: w.value for name, w in self.sizes.items()},
        )  # fmt: skip

    def set(self, **values: Any) -> ExplorerView:
        """Set several controls by field name, then redraw once (tests and notebooks)."""
        self._quiet = True
        try:
            for name, value in values.items():
                control = self.sizes[name] if name in self.sizes else getattr(self, name, None)
                if not isinstance(control, W.ValueWidget):
                    raise ValueError(f"{name}={value!r} is not allowed: no such control")
                _set_control(name, control, value)
        finally:
            self._quiet = False
        return self.update()

    def update(self) -> ExplorerView | None:
        if self._quiet:
            return None
        v = self.view = explore(**self.settings())
        self.n_blocks.disabled = self.strategy.value not in BLOCK_STRATEGIES
        if v.error:
            self.message.value = f"<b style='color:#b00'>{html.escape(v.error, quote=False)}</b>"
            for label in (self.count_label, self.per_use_label, self.memory_label):
                label.value = "—"
            self.plot_out.outputs = ()
            self.table.value = ""
            return v
        self.message.value = ""
        self.count_label.value = f"unique parameters: {v.unique_params:,}"
        self.per_use_label.value = (
            f"parameters per use (what compute touches): {v.per_use_params:,}"
        )
        self.memory_label.value = f"parameter memory at fp32: {v.param_mb:.2f} MB"
        fig = new_figure(3.2, 0.25 * v.plan.n_layers + 0.9)
        v.plan.plot(fig.add_subplot())
        self.plot_out.outputs = (png_output(fig),)
        self.table.value = f"<pre>{html.escape(v.table, quote=False)}</pre>"
        return v

    def __repr__(self) -> str:
        return f"SharingExplorer({self.view.summary() if self.view else ''})"


from .training_panel import DEFAULT_PLANS, TrainingPanel, results_table, train_plans  # noqa: E402, F401
