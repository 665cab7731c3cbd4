"""The training panel of notebook 06: pick plans, train them, see the table and the figure.

A thin view over two pure functions: ``train_plans`` (each picked plan's config trained by
a runner, ``course_lib.experiments.run.run_experiment`` unless another is injected) and
``results_table``. The figure is ``course_lib.views.figures.plot_params_vs_accuracy``, shown as PNG
display data in an ``Output`` widget so tests read it without a browser. A bad setting
shows its message in the panel, never a traceback. ``dataset`` may be your own data (a
.csv path, a DataFrame, ``course_lib.data.own.own_data(...)``; set ``n_classes`` to fit).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import pandas as pd

from course_lib.config import ModelConfig, TrainConfig
from course_lib.i18n import N_, _
from course_lib.views.figures import new_figure, png_output

DEFAULT_PLANS: dict[str, dict[str, Any]] = {
    "none": {"sharing": "none"},
    "all": {"sharing": "all"},
    "attention": {"sharing": "attention"},
    "ffn": {"sharing": "ffn"},
    "sequence M=2": {"sharing": "sequence", "n_blocks": 2},
    "cycle M=2": {"sharing": "cycle", "n_blocks": 2},
    "cycle_rev M=2": {"sharing": "cycle_rev", "n_blocks": 2},
}
HEADS = {"unique_params": N_("unique params"), "per_use_params": N_("params per use"),
         "val_loss": N_("val loss"), "train_time_s": N_("time (s)"),
         "tokens_per_s": N_("tokens /s"), "name": N_("name"), "sharing": N_("sharing"),
         "accuracy": N_("accuracy")}  # fmt: skip
TABLE_COLUMNS = ("name", "sharing", "n_layers", "n_blocks", "unique_params", "per_use_params",
                 "accuracy", "val_loss", "train_time_s", "tokens_per_s")  # fmt: skip


def train_plans(
    names: list[str], plans: dict[str, dict[str, Any]], model_cfg: ModelConfig,
    train_cfg: TrainConfig, dataset: Any, runner: Callable[..., dict], progress: bool = True,
) -> list[dict[str, Any]]:  # fmt: skip
    """Train each named plan (``model_cfg`` with the plan's changes); one record each."""
    records = []
    for name in names:
        if name not in plans:
            raise ValueError(
                _("plan={name} is not allowed: choose from {plans}").format(
                    name=repr(name), plans=sorted(plans)
                )
            )
        cfg = model_cfg.replace(**plans[name])
        record = dict(runner(cfg, train_cfg, dataset=dataset, progress=progress))
        record["name"] = name
        records.append(record)
    return records


def results_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The records as a table with the columns worth reading, in that order."""
    df = pd.DataFrame(records)
    return df[[c for c in TABLE_COLUMNS if c in df.columns]]


def table_html(df: pd.DataFrame) -> str:
    """The results as a compact HTML table that fits a 600 px output area: short headers
    that may wrap, numbers rounded to what a FAST run can tell apart, no index."""
    heads = {"n_layers": "N", "n_blocks": "M", **{c: _(h) for c, h in HEADS.items()}}

    def cell(column: str, value: Any) -> str:
        if value is None or (isinstance(value, float) and value != value):  # None or NaN
            return "—"
        if column in ("n_blocks", "n_layers", "unique_params", "per_use_params", "tokens_per_s"):
            return f"{value:,.0f}"
        if column in ("accuracy", "val_loss"):
            return f"{value:.3f}"
        return f"{value:.1f}" if column == "train_time_s" else html.escape(str(value))

    style = "style='font-size: 12px'"
    rows = ["<tr>" + "".join(f"<th {style}>{heads.get(c, c)}</th>" for c in df.columns) + "</tr>"]
    rows += ["<tr>" + "".join(f"<td {style}>{cell(c, v)}</td>" for c, v in r.items()) + "</tr>"
             for _, r in df.iterrows()]  # fmt: skip
    return "<table>" + "".join(rows) + "</table>"


def _check_panel_inputs(model_cfg, train_cfg, plans: dict, selected) -> None:
    """A ValueError naming the argument when the panel could only fail later, at Train."""
    for name, value, cls in (("model_cfg", model_cfg, ModelConfig), ("train_cfg", train_cfg, TrainConfig)):  # fmt: skip
        if not isinstance(value, cls):
            raise ValueError(
                _("{name}={value} is not allowed: give a {cls} ({cls}(**d) turns a dict d "
                  "into one)").format(name=name, value=repr(value), cls=cls.__name__)
            )  # fmt: skip
    if not plans:
        raise ValueError(
            _("plans={{}} is not allowed: give at least one plan (name -> changes)").format()
        )
    for name, changes in plans.items():
        if not isinstance(changes, dict):
            raise ValueError(
                _("plans[{name}]={changes} is not allowed: give a dict of ModelConfig "
                  "changes, e.g. {{'sharing': 'all'}}").format(name=repr(name), changes=repr(changes))
            )  # fmt: skip
    if isinstance(selected, str):
        raise ValueError(
            _("selected={selected} is not allowed: give a tuple of plan names, "
              "e.g. ({selected},)").format(selected=repr(selected))
        )  # fmt: skip


class TrainingPanel(W.VBox):
    """Pick plans, press Train: a progress area, a results table and the headline figure."""

    def __init__(
        self, model_cfg: ModelConfig, train_cfg: TrainConfig, dataset: Any = "rotten_tomatoes",
        plans: dict[str, dict[str, Any]] | None = None, selected: tuple[str, ...] = ("none", "all"),
        reference_df: pd.DataFrame | None = None, runner: Callable[..., dict] | None = None,
        progress: bool = True,
    ):  # fmt: skip
        self.model_cfg, self.train_cfg, self.dataset = model_cfg, train_cfg, dataset
        self.plans = dict(plans if plans is not None else DEFAULT_PLANS)
        self.reference_df, self._runner, self.progress = reference_df, runner, progress
        _check_panel_inputs(model_cfg, train_cfg, self.plans, selected)
        unknown = [name for name in selected if name not in self.plans]
        if unknown:
            raise ValueError(
                _("selected={unknown} is not allowed: choose plans from {plans}").format(
                    unknown=repr(unknown), plans=sorted(self.plans)
                )
            )
        self.plan_select = W.SelectMultiple(options=list(self.plans), value=tuple(selected),
                                            description=_("plans"), rows=min(8, len(self.plans)))  # fmt: skip
        self.train_button = W.Button(description=_("Train"), button_style="primary")
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
            from course_lib.experiments.run import run_experiment  # lazy: only when training starts

            self._runner = run_experiment
        return self._runner

    def train(self) -> pd.DataFrame:
        """Train the picked plans one by one. A plan with a bad setting, or whose training
        diverges, gets its message in the status line; every plan that finished, before or
        after it, keeps its row."""
        from course_lib.data.dataset import Dataset  # lazy, like the runner
        from course_lib.training.step import TrainingDiverged

        names = list(self.plan_select.value)
        if not names:
            self.status.value = (
                "<b style='color:#b00'>" + _("plans: pick at least one plan") + "</b>"
            )
            return self.results
        self.train_button.disabled = True
        self.status.value = _("training {n} plan(s): {names} …").format(
            n=len(names), names=", ".join(names)
        )
        new, failed = [], []
        with self.progress_out:  # in a kernel, Output shows and swallows other exceptions
            try:
                try:  # once for every plan: a file is read once, not once a plan
                    dataset = Dataset.resolve(self.dataset)
                except ValueError as e:  # every plan would stop with it
                    failed, names = [f"{name}: {e}" for name in names], []
                for name in names:
                    try:
                        new += train_plans([name], self.plans, self.model_cfg, self.train_cfg,
                                           dataset, self.runner, self.progress)  # fmt: skip
                    except (ValueError, TrainingDiverged) as e:  # say which plan, no traceback
                        failed.append(f"{name}: {e}")
            finally:
                self.train_button.disabled = False
                self._show(new, failed)
        return self.results

    def _show(self, new: list[dict[str, Any]], failed: list[str]) -> None:
        """Status, table and figure after a Train: finished plans replace their old rows."""
        done = {r["name"] for r in new}  # a plan trained again replaces its old row
        self.records = [r for r in self.records if r["name"] not in done] + new
        self.results = results_table(self.records)
        text = html.escape("; ".join(failed), quote=False)
        failed_text = _("not trained: {plans}").format(plans=text)
        status = f"<b style='color:#b00'>{failed_text}</b>" if failed else ""
        if new or not failed:
            done_text = _("done: {new} plan(s) trained, {kept} in the table").format(
                new=len(new), kept=len(self.records)
            )
            status = f"{done_text}<br>{status}" if status else done_text
        self.status.value = status
        if not self.records:
            return
        self.table_out.outputs = ({"output_type": "display_data", "metadata": {},
                                   "data": {"text/html": table_html(self.results),
                                            "text/plain": self.results.to_string(index=False)}},)  # fmt: skip
        self.figure_out.outputs = (png_output(self.figure()),)

    def figure(self):
        """The headline figure of the current results (and the reference, if given)."""
        from course_lib.views.figures import plot_params_vs_accuracy

        fig = new_figure(7, 4.5)
        plot_params_vs_accuracy(self.results, self.reference_df, ax=fig.add_subplot())
        return fig

    def __repr__(self) -> str:
        return f"TrainingPanel(plans={list(self.plan_select.value)}, trained={len(self.records)})"
