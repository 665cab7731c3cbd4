"""Notebook 08's figures (and notebook 11's cost bars): what sharing changes, and how fast.

The numbers come from ``course_lib.measure``; these functions only draw them:

- ``plot_what_changes(table)``: grouped bars, every quantity of a plan (unique
  parameters, memory, FLOPs, ...) divided by the unshared ``none`` row, so a bar below 1
  is what sharing saves and a bar at 1 what it leaves unchanged (08 and 11, from
  ``course_lib.measure.speed_report.cost_table`` / ``plan_costs``);
- ``plot_speed_ratios(tables)``: one panel per source (your CPU, the shipped GPU run),
  each bar from 1 to the plan's ratio ``time_none / time_plan`` and a grey band 1 ± the
  run's noise floor (``course_lib.measure.timing``, from an identical twin);
- ``plot_cache_experiment(table, caches)``: ``course_lib.measure.cache_speed``'s ratio of
  ``none`` to ``all`` against the unshared model's weight MiB, with the machine's cache
  sizes as vertical lines: MobileLLM's (Liu et al. 2024) memory-bound argument, measured.

Each returns the Axes it drew on (a new figure when ``ax`` is None).
"""

from __future__ import annotations

import math

import pandas as pd

from course_lib.i18n import _
from course_lib.measure.speed_report import SPEED_COLUMNS
from course_lib.measure.timing import PHASES
from course_lib.views.figures import F_, language_fonts


def plot_what_changes(table: pd.DataFrame, ax=None, baseline: str = "none"):
    """Grouped bars: every column of ``table`` divided by the ``baseline`` row.

    Rows are plans, columns quantities (unique params, memory, FLOPs, ...). Bars below 1
    are what sharing saves; bars at 1 are what it leaves unchanged.
    """
    import matplotlib.pyplot as plt

    language_fonts()
    if baseline not in table.index:
        raise ValueError(
            _("the table has no {baseline!r} row: {index}").format(
                baseline=baseline, index=list(table.index)
            )
        )
    rel = table / table.loc[baseline]
    if ax is None:
        _fig, ax = plt.subplots(figsize=(9, 3.8))
    n_plans = len(rel.index)
    width = 0.8 / n_plans
    for i, plan in enumerate(rel.index):
        xs = [j + (i - (n_plans - 1) / 2) * width for j in range(len(rel.columns))]
        ax.bar(xs, rel.loc[plan], width, label=plan)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(range(len(rel.columns)), rel.columns, fontsize=8)
    ax.set_ylabel(F_("relative to {baseline}").format(baseline=repr(baseline)))
    ax.legend(fontsize=8, ncol=min(n_plans, 6), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    return ax


def plot_speed_ratios(tables: dict[str, pd.DataFrame], ax=None):
    """One panel per source (e.g. your CPU, the shipped GPU): ratios per plan.

    Each bar runs from 1 to the plan's ratio, so a bar up is faster than ``none`` and a bar
    down slower; where a ``<column>_floor`` is given, a grey band 1 ± floor marks what the
    run's noise floor cannot tell from 1. Every panel gets its own y-range, wide enough for
    all its bars and bands: no bar is cut off. A plan has the same colour in every panel.
    """
    import matplotlib.pyplot as plt

    language_fonts()
    if ax is None:
        _fig, ax = plt.subplots(1, len(tables), figsize=(5 * len(tables), 3.4))
    axes = list(ax) if hasattr(ax, "__len__") else [ax]
    if len(axes) != len(tables):
        raise ValueError(_("got {n} axes for {n2} tables").format(n=len(axes), n2=len(tables)))
    plans = list(dict.fromkeys(p for t in tables.values() for p in t.index))
    colour = {p: plt.get_cmap("tab10")(k % 10) for k, p in enumerate(plans)}  # same in every panel
    for a, (title, t) in zip(axes, tables.items(), strict=True):
        cols = [c for c in (*SPEED_COLUMNS, *PHASES) if c in t.columns]
        width = 0.8 / len(t.index)
        for i, plan in enumerate(t.index):
            xs = [j + (i - (len(t.index) - 1) / 2) * width for j in range(len(cols))]
            a.bar(xs, t.loc[plan, cols] - 1.0, width, bottom=1.0, label=plan, color=colour[plan])
        edges = [1.0] + [v for v in t[cols].to_numpy().ravel() if math.isfinite(v)]
        for j, col in enumerate(cols):
            if f"{col}_floor" in t.columns:
                f = float(t[f"{col}_floor"].max())
                a.fill_between([j - 0.45, j + 0.45], 1 - f, 1 + f, color="grey", alpha=0.25,
                               lw=0)  # fmt: skip
                edges += [1 - f, 1 + f]
        a.axhline(1.0, color="black", lw=0.8)
        a.set_xticks(range(len(cols)), cols, fontsize=8, rotation=20)
        a.set_title(title, fontsize=9)
        pad = 0.05 * max(max(edges) - min(edges), 0.2)
        a.set_ylim(min(edges) - pad, max(edges) + pad)
        a.legend(fontsize=7)
    axes[0].set_ylabel(F_("time of none / time of plan"))
    return axes


def plot_cache_experiment(table: pd.DataFrame, caches: dict[str, int], ax=None):
    """Ratio t_none / t_all against the unshared model's weight MiB, one line per batch,
    the noise band of each point, and the machine's cache sizes as vertical lines."""
    import matplotlib.pyplot as plt

    language_fonts()
    if ax is None:
        _fig, ax = plt.subplots(figsize=(7, 3.8))
    for b, part in table.groupby("batch"):
        line = ax.plot(part["none_MiB"], part["ratio"], "o-", label=F_("batch {b}").format(b=b))[0]
        ax.errorbar(part["none_MiB"], part["ratio"], yerr=part["floor"], fmt="none",
                    ecolor=line.get_color(), capsize=3, lw=1)  # fmt: skip
    ax.axhline(1.0, color="black", lw=0.8)
    for name, size in caches.items():
        if name != "L1d":
            ax.axvline(size / 2**20, color="grey", ls=":", lw=1)
            ax.annotate(name, (size / 2**20, 0.98), xycoords=("data", "axes fraction"),
                        ha="right", va="top", fontsize=8, color="grey", rotation=90)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel(F_("weights of the unshared model, MiB (the shared one: 1/N of it)"))
    ax.set_ylabel(F_("time of none / time of all"))
    ax.legend(fontsize=8, title=F_("error bar: noise floor"), title_fontsize=8)
    return ax
