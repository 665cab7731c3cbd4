"""Widgets of the course, thin views over pure functions (notebooks 04 and 06).

- ``explore(...)`` (pure) turns explorer settings into an ``ExplorerView``: the config,
  its ``SharingPlan``, unique and per-use parameter counts (counted on the model itself,
  built on PyTorch's ``meta`` device so even ALBERT sizes take milliseconds), fp32
  parameter memory and a layer -> weights table, or an error message naming the field.
  ``SharingExplorer`` wires controls (one per ``ModelConfig`` field) to it.
- ``TrainingPanel`` trains the picked plans with ``course_lib.experiments.run_experiment``
  (or any runner with its signature), then fills a results table and redraws the headline
  figure of ``course_lib.plots``.

The ALBERT switches ``share_attention`` / ``share_ffn`` (Lan et al. 2020) are a second
view of ``sharing``: (False, False) is ``none``, (True, True) ``all``, (True, False)
``attention``, (False, True) ``ffn``. SEQUENCE / CYCLE / CYCLE-REV (Takase & Kiyono 2021)
share whole blocks, so with them both switches are on.

Figures go into ``Output`` widgets as PNG display data, so tests read what is shown
(``w.plot_out.outputs``, ``w.count_label.value``) without a browser.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import pandas as pd
import torch
from traitlets import TraitError

from .config import SHARING_STRATEGIES, TASKS, ModelConfig, TrainConfig
from .measure import count_parameters, count_parameters_per_use
from .model import build_model
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


def png_output(fig) -> dict[str, Any]:
    """A figure as one display-data output for ``Output.outputs`` (no inline backend needed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": data, "text/plain": "<Figure>"}}  # fmt: skip


def new_figure(width: float, height: float):
    """A figure not registered with pyplot, so the notebook never shows it twice."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


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


DEFAULT_PLANS: dict[str, dict[str, Any]] = {
    "none": {"sharing": "none"},
    "all": {"sharing": "all"},
    "attention": {"sharing": "attention"},
    "ffn": {"sharing": "ffn"},
    "sequence M=2": {"sharing": "sequence", "n_blocks": 2},
    "cycle M=2": {"sharing": "cycle", "n_blocks": 2},
    "cycle_rev M=2": {"sharing": "cycle_rev", "n_blocks": 2},
}
TABLE_COLUMNS = ("name", "sharing", "n_layers", "n_blocks", "unique_params", "per_use_params",
                 "accuracy", "val_loss", "train_time_s", "tokens_per_s")  # fmt: skip


def train_plans(
    names: list[str], plans: dict[str, dict[str, Any]], model_cfg: ModelConfig,
    train_cfg: TrainConfig, dataset: str, runner: Callable[..., dict], progress: bool = True,
) -> list[dict[str, Any]]:  # fmt: skip
    """Train each named plan (``model_cfg`` with the plan's changes); one record each."""
    records = []
    for name in names:
        if name not in plans:
            raise ValueError(f"plan={name!r} is not allowed: choose from {sorted(plans)}")
        cfg = model_cfg.replace(**plans[name])
        record = dict(runner(cfg, train_cfg, dataset=dataset, progress=progress))
        record["name"] = name
        records.append(record)
    return records


def results_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The records as a table with the columns worth reading, in that order."""
    df = pd.DataFrame(records)
    return df[[c for c in TABLE_COLUMNS if c in df.columns]]


class TrainingPanel(W.VBox):
    """Pick plans, press Train: a progress area, a results table and the headline figure."""

    def __init__(
        self, model_cfg: ModelConfig, train_cfg: TrainConfig, dataset: str = "rotten_tomatoes",
        plans: dict[str, dict[str, Any]] | None = None, selected: tuple[str, ...] = ("none", "all"),
        reference_df: pd.DataFrame | None = None, runner: Callable[..., dict] | None = None,
        progress: bool = True,
    ):  # fmt: skip
        self.model_cfg, self.train_cfg, self.dataset = model_cfg, train_cfg, dataset
        self.plans = dict(plans if plans is not None else DEFAULT_PLANS)
        self.reference_df, self._runner, self.progress = reference_df, runner, progress
        unknown = [name for name in selected if name not in self.plans]
        if unknown:
            raise ValueError(
                f"selected={unknown!r} is not allowed: choose plans from {sorted(self.plans)}"
            )
        self.plan_select = W.SelectMultiple(options=list(self.plans), value=tuple(selected),
                                            description="plans", rows=min(8, len(self.plans)))  # fmt: skip
        self.train_button = W.Button(description="Train", button_style="primary")
        self.status = W.HTML()
        self.progress_out = W.Output()
        self.table_out = W.Output()
        self.figure_out = W.Output()
        self.records: list[dict[str, Any]] = []
        self.results = pd.DataFrame()
        super().__init__([W.HBox([self.plan_select, self.train_button]), self.status,
                          self.progress_out, self.table_out, self.figure_out])  # fmt: skip
        self.train_button.on_click(lambda _b: self.train())

    @property
    def runner(self) -> Callable[..., dict]:
        if self._runner is None:
            from .experiments import run_experiment  # lazy: only when training starts

            self._runner = run_experiment
        return self._runner

    def train(self) -> pd.DataFrame:
        names = list(self.plan_select.value)
        if not names:
            self.status.value = "<b style='color:#b00'>plans: pick at least one plan</b>"
            return self.results
        self.train_button.disabled = True
        self.status.value = f"training {len(names)} plan(s): {', '.join(names)} …"
        new, error = None, "training stopped: see the progress area"
        with self.progress_out:  # in a kernel, Output shows and swallows other exceptions
            try:
                new = train_plans(names, self.plans, self.model_cfg, self.train_cfg,
                                  self.dataset, self.runner, self.progress)  # fmt: skip
            except ValueError as e:  # a bad setting: say which, no traceback
                error = str(e)
            finally:
                self.train_button.disabled = False
        if new is None:
            self.status.value = f"<b style='color:#b00'>{html.escape(error, quote=False)}</b>"
            return self.results
        done = {r["name"] for r in new}  # a plan trained again replaces its old row
        self.records = [r for r in self.records if r["name"] not in done] + new
        self.results = results_table(self.records)
        self.status.value = f"done: {len(new)} plan(s) trained, {len(self.records)} in the table"
        self.table_out.outputs = ({"output_type": "display_data", "metadata": {},
                                   "data": {"text/html": self.results.to_html(index=False),
                                            "text/plain": self.results.to_string(index=False)}},)  # fmt: skip
        self.figure_out.outputs = (png_output(self.figure()),)
        return self.results

    def figure(self):
        """The headline figure of the current results (and the reference, if given)."""
        from .plots import plot_params_vs_accuracy

        fig = new_figure(7, 4.5)
        plot_params_vs_accuracy(self.results, self.reference_df, ax=fig.add_subplot())
        return fig

    def __repr__(self) -> str:
        return f"TrainingPanel(plans={list(self.plan_select.value)}, trained={len(self.records)})"
