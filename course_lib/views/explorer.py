"""The sharing explorer, a thin view over a pure function (notebook 04).

- ``course_lib.nn.plan_summary.explore(...)`` (pure, no widgets) turns explorer settings
  into an ``ExplorerView``: the config, its ``SharingPlan``, unique and per-use parameter
  counts, fp32 parameter memory and a layer -> weights table, or an error message naming
  the field. ``SharingExplorer`` wires controls (one per ``ModelConfig`` field) to it and
  draws the plan with ``course_lib.views.model_figures.plot_plan``. Its
  constructor and ``set()`` check every value first (no slider clamping, no integer
  truncation, no unknown or output names, bools only), then apply them all and redraw
  once, so the controls and the readout always agree. Its layout fits JupyterLab at 1024
  px and Colab's ~800 px output area: labels 104 px wide, the readout as HTML lines that
  wrap, placed under the controls where there is no room beside them (tests/catalogues/test_browser.py).
- Works under ipywidgets 7.7 (what Colab ships) and 8 (JupyterLab 4); ``make widgets7``.
- ``TrainingPanel`` (notebook 06) lives in ``course_lib.views.training_panel``.

The ALBERT switches ``share_attention`` / ``share_ffn`` (Lan et al. 2020) are a second
view of ``sharing`` (``course_lib.nn.plan_summary.SWITCHES``); SEQUENCE / CYCLE /
CYCLE-REV (Takase & Kiyono 2021) share whole blocks, so with them both switches are on.

Figures go into ``Output`` widgets as PNG display data, so tests read what is shown
(``w.plot_out.outputs``, ``w.count_label.value``) without a browser.
"""

from __future__ import annotations

import html
import numbers
from typing import Any

import ipywidgets as W

from course_lib.config import BLOCK_STRATEGIES, SHARING_STRATEGIES, TASKS
from course_lib.i18n import _
from course_lib.nn.plan_summary import (
    SWITCHES,
    ExplorerView,
    check_switches,
    explore,
    strategy_from_switches,
    switches_of,
)
from course_lib.views.figures import new_figure, png_output
from course_lib.views.model_figures import plot_plan

SIZE_CONTROLS = ("d_model", "n_heads", "d_ff", "vocab_size", "embed_dim")
CONTROLS = ("strategy", "share_attention", "share_ffn", "n_layers", "n_blocks", "task",
            "tie_embeddings", *SIZE_CONTROLS)  # fmt: skip
OUTPUTS = ("message", "count_label", "per_use_label", "memory_label", "plot_out", "table", "view")
DEFAULTS = {"strategy": "cycle", "n_layers": 12, "n_blocks": 3, "embed_dim": 256,
            "tie_embeddings": False, "d_model": 256, "n_heads": 4, "d_ff": 1024,
            "vocab_size": 1000, "task": "classify"}  # fmt: skip
LABEL_WIDTH = "104px"  # room for "n_blocks (M)": ipywidgets' default 80px cuts it
CONTROL_WIDTH = "330px"
INDENT = "0 0 0 112px"  # checkboxes start where the other controls' inputs start


def _checked(name: str, control: W.ValueWidget, value: Any) -> Any:
    """``value`` if ``control`` can hold it exactly, else a ValueError naming the field and
    what it takes (a slider would clamp, an integer box truncate, a checkbox take the
    text "False" as true, a dropdown raise a traitlets error)."""
    if isinstance(control, W.Dropdown):
        if not (isinstance(value, str) and value in control.options):
            allowed = ", ".join(repr(o) for o in control.options)
            raise ValueError(
                _("{name}={value} is not allowed: choose one of {allowed}").format(
                    name=name, value=repr(value), allowed=allowed
                )
            )
        return value
    if isinstance(control, W.Checkbox):
        if not isinstance(value, bool):
            raise ValueError(
                _("{name}={value} is not allowed: give True or False").format(
                    name=name, value=repr(value)
                )
            )
        return value
    slider = isinstance(control, W.IntSlider)
    if slider:
        refused = _(
            "{name}={value} is not allowed: the slider takes integers {low} to {high}"
        ).format(name=name, value=repr(value), low=control.min, high=control.max)
    else:
        refused = _("{name}={value} is not allowed: it takes an integer").format(
            name=name, value=repr(value)
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(refused)
    if slider and not control.min <= value <= control.max:
        raise ValueError(refused)
    return int(value)


def _not_a_control(name: str, value: Any = None, with_value: bool = False) -> str:
    """The refusal of a name that is not a control (``name=value`` when ``with_value``)."""
    what = f"{name}={value!r}" if with_value else name
    controls = ", ".join(CONTROLS)
    if name in OUTPUTS:
        text = _("{what} is not allowed: it is an output the explorer computes; "
                 "the controls are {controls}")  # fmt: skip
    else:
        text = _("{what} is not allowed: no such control; the controls are {controls}")
    return text.format(what=what, controls=controls)


class SharingExplorer(W.VBox):
    """Strategy, depth and sizes in; layer -> weights diagram, counts and memory out.

    ``SharingExplorer(**settings)`` and ``set(**settings)`` take the names in ``CONTROLS``;
    every value is checked before any control changes, so a refused change changes nothing.
    """

    def __init__(self, **settings: Any):
        s = DEFAULTS
        lay, style = W.Layout(width=CONTROL_WIDTH), {"description_width": LABEL_WIDTH}
        self.strategy = W.Dropdown(options=SHARING_STRATEGIES, value=s["strategy"],
                                   description=_("sharing"), layout=lay, style=style)  # fmt: skip
        att, ffn = switches_of(s["strategy"])
        self.share_attention = W.Checkbox(value=att, description=_("share attention"), indent=False,
                                          layout=W.Layout(width="auto"))  # fmt: skip
        self.share_ffn = W.Checkbox(value=ffn, description=_("share FFN"), indent=False,
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
            raise ValueError(_not_a_control(name))
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
                raise ValueError(_not_a_control(name, value, with_value=True))
            checked[name] = _checked(name, self.control(name), value)
        if "strategy" in checked:  # a strategy and a switch that contradict it
            check_switches(checked["strategy"], checked.get("share_attention"),
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
        self.count_label.value = _("unique parameters: {n:,}").format(n=v.unique_params)
        self.per_use_label.value = _("parameters per use (what compute touches): {n:,}").format(
            n=v.per_use_params
        )
        self.memory_label.value = _("parameter memory at fp32: {mb:,.2f} MB").format(mb=v.param_mb)
        fig = new_figure(3.2, 0.25 * v.plan.n_layers + 0.9)
        plot_plan(v.plan, fig.add_subplot())
        self.plot_out.outputs = (png_output(fig),)
        self.table.value = f"<pre>{html.escape(v.table, quote=False)}</pre>"
        return v

    def __repr__(self) -> str:
        return f"SharingExplorer({self.view.summary() if self.view else ''})"
