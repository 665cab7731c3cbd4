"""Widgets of the course, thin views over pure functions (notebooks 04 and 06).

- ``explore(...)`` (pure) turns explorer settings into an ``ExplorerView``: the config,
  its ``SharingPlan``, unique and per-use parameter counts, fp32 parameter memory and a
  layer -> weights table, or an error message naming the field. The counts are taken on
  modules built on PyTorch's ``meta`` device (shapes, no memory), ``_counts``: so ALBERT
  sizes and N = 1,000 layers take milliseconds. N is capped at ``MAX_LAYERS``.
  ``SharingExplorer`` wires controls (one per ``ModelConfig`` field) to it. Its
  constructor and ``set()`` check every value first (no slider clamping, no integer
  truncation, no unknown or output names, bools only), then apply them all and redraw
  once, so the controls and the readout always agree. Its layout fits JupyterLab at 1024
  px and Colab's ~800 px output area: labels 104 px wide, the readout as HTML lines that
  wrap, placed under the controls where there is no room beside them (tests/test_browser.py).
- Works under ipywidgets 7.7 (what Colab ships) and 8 (JupyterLab 4); ``make widgets7``.
- ``TrainingPanel`` (notebook 06) lives in ``course_lib.views.training_panel``.

The ALBERT switches ``share_attention`` / ``share_ffn`` (Lan et al. 2020) are a second
view of ``sharing``: (False, False) is ``none``, (True, True) ``all``, (True, False)
``attention``, (False, True) ``ffn``. SEQUENCE / CYCLE / CYCLE-REV (Takase & Kiyono 2021)
share whole blocks, so with them both switches are on.

Figures go into ``Output`` widgets as PNG display data, so tests read what is shown
(``w.plot_out.outputs``, ``w.count_label.value``) without a browser.
"""

from __future__ import annotations

import html
import numbers
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import torch

from course_lib.config import BLOCK_STRATEGIES, SHARING_STRATEGIES, TASKS, ModelConfig
from course_lib.nn.counts import count_parameters, count_parameters_per_use
from course_lib.nn.model import build_model
from course_lib.nn.sharing import SharingPlan
from course_lib.views.figures import new_figure, png_output

SWITCHES = {
    "none": (False, False),
    "all": (True, True),
    "attention": (True, False),
    "ffn": (False, True),
}
SIZE_CONTROLS = ("d_model", "n_heads", "d_ff", "vocab_size", "embed_dim")
CONTROLS = ("strategy", "share_attention", "share_ffn", "n_layers", "n_blocks", "task",
            "tie_embeddings", *SIZE_CONTROLS)  # fmt: skip
OUTPUTS = ("message", "count_label", "per_use_label", "memory_label", "plot_out", "table", "view")
DEFAULTS = {"strategy": "cycle", "n_layers": 12, "n_blocks": 3, "embed_dim": 256,
            "tie_embeddings": False, "d_model": 256, "n_heads": 4, "d_ff": 1024,
            "vocab_size": 1000, "task": "classify"}  # fmt: skip
BYTES_FP32 = 4
MAX_STORAGE_BYTES = 2**63 - 1  # PyTorch counts a tensor's bytes in a signed 64-bit integer
SIZE_FIELDS = ("vocab_size", "d_model", "n_heads", "d_ff", "embed_dim", "max_len")
LABEL_WIDTH = "104px"  # room for "n_blocks (M)": ipywidgets' default 80px cuts it
CONTROL_WIDTH = "330px"
INDENT = "0 0 0 112px"  # checkboxes start where the other controls' inputs start
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
            return f"not a valid model: {self.error}"
        return (
            f"{self.config.sharing}: {self.unique_params:,} unique parameters "
            f"({self.param_mb:.2f} MB fp32), {self.per_use_params:,} per use"
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
        _check_switches(strategy, share_attention, share_ffn)
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
            f"n_layers={n_layers!r} is not allowed in the explorer: it lists every layer, "
            f"at most {MAX_LAYERS:,}; count a deeper model with "
            "course_lib.formula_parameter_count(ModelConfig(...))"
        )


def _check_switches(strategy: str, share_attention: bool | None, share_ffn: bool | None) -> None:
    expected = switches_of(strategy)
    for field, value, want in (("share_attention", share_attention, expected[0]),
                               ("share_ffn", share_ffn, expected[1])):  # fmt: skip
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"{field}={value!r} is not allowed: give True, False or None")
        if value is None or value == want:
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


def _check_storage(cfg: ModelConfig) -> None:
    """A ValueError naming the sizes of a weight whose fp32 storage is more bytes than
    PyTorch can count (a signed 64-bit number): building it would raise deep in torch."""
    e = "embed_dim" if cfg.embed_dim else "d_model"
    for a, b in (("vocab_size", e), ("max_len", e), ("max_len", "d_model"), (e, "d_model"),
                 ("d_model", "d_model"), ("d_model", "d_ff")):  # fmt: skip
        rows, cols = getattr(cfg, a), getattr(cfg, b)
        if rows * cols * BYTES_FP32 > MAX_STORAGE_BYTES:
            pair = f"{a}={rows!r}" + ("" if a == b else f" with {b}={cols!r}")
            raise ValueError(
                f"{pair} is not allowed: a {rows} x {cols} weight takes "
                f"{rows * cols * BYTES_FP32:.3g} bytes at fp32, more than PyTorch can store "
                f"({MAX_STORAGE_BYTES + 1:.3g}); make the sizes smaller"
            )


def _checked(name: str, control: W.ValueWidget, value: Any) -> Any:
    """``value`` if ``control`` can hold it exactly, else a ValueError naming the field and
    what it takes (a slider would clamp, an integer box truncate, a checkbox take the
    text "False" as true, a dropdown raise a traitlets error)."""
    if isinstance(control, W.Dropdown):
        if not (isinstance(value, str) and value in control.options):
            allowed = ", ".join(repr(o) for o in control.options)
            raise ValueError(f"{name}={value!r} is not allowed: choose one of {allowed}")
        return value
    if isinstance(control, W.Checkbox):
        if not isinstance(value, bool):
            raise ValueError(f"{name}={value!r} is not allowed: give True or False")
        return value
    slider = isinstance(control, W.IntSlider)
    takes = f"the slider takes integers {control.min} to {control.max}" if slider else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}={value!r} is not allowed: {takes or 'it takes an integer'}")
    if slider and not control.min <= value <= control.max:
        raise ValueError(f"{name}={value!r} is not allowed: {takes}")
    return int(value)


def _not_a_control(name: str) -> str:
    what = "it is an output the explorer computes" if name in OUTPUTS else "no such control"
    return f"{what}; the controls are {', '.join(CONTROLS)}"


class SharingExplorer(W.VBox):
    """Strategy, depth and sizes in; layer -> weights diagram, counts and memory out.

    ``SharingExplorer(**settings)`` and ``set(**settings)`` take the names in ``CONTROLS``;
    every value is checked before any control changes, so a refused change changes nothing.
    """

    def __init__(self, **settings: Any):
        s = DEFAULTS
        lay, style = W.Layout(width=CONTROL_WIDTH), {"description_width": LABEL_WIDTH}
        self.strategy = W.Dropdown(options=SHARING_STRATEGIES, value=s["strategy"],
                                   description="sharing", layout=lay, style=style)  # fmt: skip
        att, ffn = switches_of(s["strategy"])
        self.share_attention = W.Checkbox(value=att, description="share attention", indent=False,
                                          layout=W.Layout(width="auto"))  # fmt: skip
        self.share_ffn = W.Checkbox(value=ffn, description="share FFN", indent=False,
                                    layout=W.Layout(width="auto", margin="0 0 0 16px"))  # fmt: skip
        self.n_layers = W.IntSlider(value=s["n_layers"], min=1, max=24, description="n_layers (N)",
                                    continuous_update=False, layout=lay, style=style)  # fmt: skip
        self.n_blocks = W.IntSlider(value=s["n_blocks"], min=1, max=24, description="n_blocks (M)",
                                    continuous_update=False, layout=lay, style=style)  # fmt: skip
        self.task = W.Dropdown(options=TASKS, value=s["task"], description="task", layout=lay,
                               style=style)  # fmt: skip
        self.tie_embeddings = W.Checkbox(value=s["tie_embeddings"], description="tie_embeddings",
                                         indent=False, layout=W.Layout(margin=INDENT))  # fmt: skip
        self.sizes = {name: W.IntText(value=s[name], description=name, layout=lay, style=style)
                      for name in SIZE_CONTROLS}  # fmt: skip
        # the readout: HTML lines wrap where a Label would cut its last digits
        self.message, self.count_label = W.HTML(), W.HTML()
        self.per_use_label, self.memory_label = W.HTML(), W.HTML()
        self.plot_out = W.Output()
        self.table = W.HTML()
        self.view: ExplorerView | None = None
        self._syncing = False
        self._quiet = False  # True while set() changes several controls
        switches = W.HBox([self.share_attention, self.share_ffn], layout=W.Layout(margin=INDENT))
        controls = W.VBox([self.strategy, switches, self.n_layers, self.n_blocks, self.task,
                           self.tie_embeddings, *self.sizes.values()],
                          layout=W.Layout(flex="0 0 auto"))  # fmt: skip
        readout = W.VBox(
            [self.message, self.count_label, self.per_use_label, self.memory_label, self.plot_out],
            layout=W.Layout(flex="1 1 320px", min_width="240px", margin="0 0 0 16px"),
        )
        # side by side where there is room, the readout under the controls where not
        top = W.HBox([controls, readout], layout=W.Layout(flex_flow="row wrap", width="100%"))
        super().__init__([top, self.table])
        self.strategy.observe(self._on_strategy, "value")
        for box in (self.share_attention, self.share_ffn):
            box.observe(self._on_switch, "value")
        for w in (self.n_layers, self.n_blocks, self.task, self.tie_embeddings,
                  *self.sizes.values()):  # fmt: skip
            w.observe(lambda _change: self.update(), "value")
        self.set(**settings)

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

    def control(self, name: str) -> W.ValueWidget:
        """The control of a field (a name in ``CONTROLS``)."""
        if name not in CONTROLS:
            raise ValueError(f"{name} is not allowed: {_not_a_control(name)}")
        return self.sizes[name] if name in self.sizes else getattr(self, name)

    def settings(self) -> dict[str, Any]:
        """The controls' values as ``explore`` keyword arguments."""
        return {name: self.control(name).value for name in CONTROLS}

    def set(self, **values: Any) -> ExplorerView:
        """Set several controls by field name, then redraw once (tests and notebooks).
        All values are checked first: one bad value raises and changes nothing."""
        checked = {}
        for name, value in values.items():
            if name not in CONTROLS:
                raise ValueError(f"{name}={value!r} is not allowed: {_not_a_control(name)}")
            checked[name] = _checked(name, self.control(name), value)
        if "strategy" in checked:  # a strategy and a switch that contradict it
            _check_switches(checked["strategy"], checked.get("share_attention"),
                            checked.get("share_ffn"))  # fmt: skip
        self._quiet = True
        try:
            for name, value in checked.items():
                self.control(name).value = value
        finally:  # the readout always shows what the controls hold
            self._quiet = False
        return self.update()

    def update(self) -> ExplorerView | None:
        if self._quiet:
            return None
        v = self.view = explore(**self.settings())
        self.n_blocks.disabled = self.strategy.value not in BLOCK_STRATEGIES
        if v.error:
            self.message.value = (  # long field=value tokens may break anywhere
                f"<div style='color:#b00; font-weight:bold; overflow-wrap:anywhere'>"
                f"{html.escape(v.error, quote=False)}</div>"
            )
            self.count_label.value = self.per_use_label.value = self.memory_label.value = "—"
            self.plot_out.outputs, self.table.value = (), ""
            return v
        self.message.value = ""
        self.count_label.value = f"unique parameters: {v.unique_params:,}"
        self.per_use_label.value = (
            f"parameters per use (what compute touches): {v.per_use_params:,}"
        )
        self.memory_label.value = f"parameter memory at fp32: {v.param_mb:,.2f} MB"
        fig = new_figure(3.2, 0.25 * v.plan.n_layers + 0.9)
        v.plan.plot(fig.add_subplot())
        self.plot_out.outputs = (png_output(fig),)
        self.table.value = f"<pre>{html.escape(v.table, quote=False)}</pre>"
        return v

    def __repr__(self) -> str:
        return f"SharingExplorer({self.view.summary() if self.view else ''})"
