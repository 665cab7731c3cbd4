"""The headline figure: unique parameters vs quality, coloured by speed (notebooks 06 and 08).

``plot_params_vs_accuracy(df)`` takes the result records of ``course_lib.experiments``
(one row per run) and draws x = unique parameter count (log scale), y = accuracy (or
validation loss for a language model), colour = training speed in tokens/s, the Pareto
front (fewer parameters and better quality) as a dashed line, and a label per plan. Pass
``reference_df`` (the shipped FULL results) to overlay the learner's runs on them.

``pareto_front`` is the pure function behind the dashed line; ``spread_labels`` keeps
the labels apart. ``png_output`` and ``new_figure`` put a figure into a widget's
``Output`` (the sharing explorer and the training panel).
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import pandas as pd

X_COL = "unique_params"
SPEED_COL = "tokens_per_s"
LABEL_COLS = ("name", "plan", "sharing")  # the first one present labels each point


def pareto_front(df: pd.DataFrame, x: str, y: str, maximize_y: bool = True) -> pd.Series:
    """True for rows no other row beats: none has x <= and y better-or-equal, one strictly.

    Smaller ``x`` is better; larger ``y`` is better unless ``maximize_y=False`` (a loss).
    Rows with a missing x or y are never on the front. Returns a boolean Series on df.index.
    """
    for col in (x, y):
        if col not in df.columns:
            raise ValueError(f"column {col!r} is missing: the table has {list(df.columns)}")
    xs = df[x].astype(float).to_numpy()
    ys = df[y].astype(float).to_numpy() * (1.0 if maximize_y else -1.0)  # larger is better
    on_front = []
    for i in range(len(df)):
        if math.isnan(xs[i]) or math.isnan(ys[i]):
            on_front.append(False)
            continue
        beaten = any(
            xs[j] <= xs[i] and ys[j] >= ys[i] and (xs[j] < xs[i] or ys[j] > ys[i])
            for j in range(len(df))
            if j != i and not (math.isnan(xs[j]) or math.isnan(ys[j]))
        )
        on_front.append(not beaten)
    return pd.Series(on_front, index=df.index, dtype=bool)


def quality_column(df: pd.DataFrame) -> tuple[str, bool]:
    """(column, larger_is_better): ``accuracy`` for classifiers, else ``val_loss`` for LMs."""
    for col, larger in (("accuracy", True), ("val_loss", False)):
        if col in df.columns and df[col].notna().any():
            return col, larger
    raise ValueError(
        f"the results need an 'accuracy' or a 'val_loss' column; they have {list(df.columns)}"
    )


def plan_labels(df: pd.DataFrame) -> list[str]:
    """A short label per row: ``name`` (or ``plan``), else sharing and M."""
    for col in LABEL_COLS[:2]:
        if col in df.columns:
            return [str(v) for v in df[col]]
    if "sharing" not in df.columns:
        return [str(i) for i in df.index]
    labels = []
    for _, row in df.iterrows():
        m = row.get("n_blocks")
        has_m = m is not None and not (isinstance(m, float) and math.isnan(m))
        labels.append(f"{row['sharing']} M={int(m)}" if has_m else str(row["sharing"]))
    return labels


def spread_labels(points: list[tuple[float, float]], width: float, height: float) -> list[float]:
    """Vertical offsets (in display units) so that no two labels overlap.

    ``points`` are label anchors in display units (pixels or points), each label
    ``width`` wide and ``height`` tall, starting just right of its point. Labels are
    placed from the top down; one that would overlap a placed label moves down below it.
    """
    order = sorted(range(len(points)), key=lambda i: -points[i][1])
    placed: list[tuple[float, float]] = []  # (x, y) of label boxes already placed
    offsets = [0.0] * len(points)
    for i in order:
        x, y = points[i]
        y_label = y
        for px, py in sorted(placed, key=lambda p: -p[1]):
            if abs(px - x) < width and abs(py - y_label) < height:
                y_label = py - height
        placed.append((x, y_label))
        offsets[i] = y_label - y
    return offsets


def _annotate(ax, labelled: list[tuple[float, float, str]]) -> None:
    """Write each label next to its point, nudged down where labels would overlap."""
    ax.autoscale_view()
    to_points = 72.0 / ax.figure.dpi
    anchors = [tuple(ax.transData.transform((x, y)) * to_points) for x, y, _ in labelled]
    for (x, y, text), dy in zip(labelled, spread_labels(anchors, 60.0, 9.0), strict=True):
        arrow = {"arrowstyle": "-", "lw": 0.4, "color": "0.5"} if dy else None
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(5, 4 + dy), fontsize=7,
                    arrowprops=arrow)  # fmt: skip


def plot_params_vs_accuracy(
    df: pd.DataFrame,
    reference_df: pd.DataFrame | None = None,
    ax=None,
    baseline: float | None = None,
):
    """The headline figure; returns the matplotlib Axes.

    Learner runs are circles, reference runs (``reference_df``) squares; both share one
    colour scale for tokens/s. Each set gets its own dashed Pareto front. ``baseline`` adds
    a dotted horizontal line (a majority-class accuracy, a unigram entropy) before the
    labels are placed, so that the axis limits the labels are spread for are final.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.lines import Line2D

    if X_COL not in df.columns:
        raise ValueError(f"column {X_COL!r} is missing: the table has {list(df.columns)}")
    y, larger = quality_column(df)
    sets = [(df, "your runs", "o", "tab:blue")]
    if reference_df is not None and len(reference_df):
        if y not in reference_df.columns or X_COL not in reference_df.columns:
            raise ValueError(f"reference_df needs the columns {X_COL!r} and {y!r} like df")
        sets.append((reference_df, "reference (FULL)", "s", "tab:gray"))
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))

    speeds = [v for d, *_ in sets if SPEED_COL in d.columns for v in d[SPEED_COL].astype(float)]
    speeds = [v for v in speeds if v == v and v > 0]  # drop NaN and non-positive
    norm = None
    if len(speeds):
        lo, hi = min(speeds), max(speeds)
        norm = LogNorm(lo, hi) if hi > 2 * lo else Normalize(lo, hi if hi > lo else lo + 1)
    cmap = plt.get_cmap("viridis")

    handles, labelled = [], []
    for data, name, marker, line_colour in sets:
        colours = (
            [cmap(norm(v)) if v == v and v > 0 else "lightgray" for v in data[SPEED_COL]]
            if norm is not None and SPEED_COL in data.columns
            else line_colour
        )
        ax.scatter(data[X_COL], data[y], c=colours, marker=marker, s=70, edgecolors="black",
                   linewidths=0.6, zorder=3)  # fmt: skip
        handles.append(Line2D([], [], ls="", marker=marker, color="white", mec="black", label=name))
        labelled += zip(data[X_COL], data[y], plan_labels(data), strict=True)
        front = data[pareto_front(data, X_COL, y, maximize_y=larger)].sort_values(X_COL)
        if len(front):
            (line,) = ax.plot(front[X_COL], front[y], "--", color=line_colour, lw=1.2, zorder=2,
                              label=f"Pareto front ({name})")  # fmt: skip
            handles.append(line)

    if norm is not None:
        mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        ax.figure.colorbar(mappable, ax=ax, label="training speed (tokens/s)")
    ax.set_xscale("log")
    if baseline is not None:
        ax.axhline(baseline, color="gray", lw=0.8, ls=":")
    _annotate(ax, labelled)  # after the scale and limits are final
    ax.set_xlabel("unique parameters (log scale)")
    ax.set_ylabel("test accuracy" if y == "accuracy" else "validation loss (lower is better)")
    better = "up" if larger else "down"
    ax.set_title(f"Fewer parameters (left) vs quality ({better} is better), colour = speed")
    ax.legend(handles=handles, fontsize=8, loc="best")
    ax.grid(True, which="both", alpha=0.3)
    return ax


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
