"""The headline figure: unique parameters vs quality, coloured by speed (notebooks 06, 07, 11).

``plot_params_vs_accuracy(df, reference_df)`` takes result records of
``course_lib.experiments.run`` (one row per run, several seeds per plan allowed) and draws,
per panel, x = unique parameter count (log scale), y = accuracy (or validation loss for a
language model) as the mean over seeds with its 95% interval (``course_lib.measure.stats``),
colour = training speed in tokens/s on the panel's own scale, the Pareto front (fewer
parameters and better quality) as a dashed line, a label per plan and a labelled
baseline. Your runs and the shipped GPU runs (``reference_df``) get separate panels: a
CPU and a GPU speed share no scale. ``shipped_df`` (the shipped CPU seeds) adds grey
intervals beside your runs.

``pareto_front`` is the pure function behind the dashed line; the labels are placed by
``course_lib.views.label_placement`` so that none sits on a marker or on another label.
``png_output`` and ``new_figure`` put a figure into a widget's ``Output``.

Under ``COURSE_LANG=zh`` titles, axis labels and legends read in Chinese (``course_lib.i18n``);
``language_fonts()``, called by every figure helper of ``course_lib.views``, then adds the
first CJK font matplotlib knows (``CJK_FONTS``) as a fallback after DejaVu Sans, and hides
matplotlib's "Glyph ... missing from font(s)" warning, so a machine without any CJK font
would draw boxes instead: there ``F_`` (figure text) keeps a figure's words in English, so
the figure stays readable, while every other message is Chinese. ``F_`` is a marker like
``_`` (``scripts/i18n.py`` extracts it) for text drawn on a figure. English changes nothing.
Chinese figures need a CJK font: Binder installs fonts-wqy-microhei (binder/apt.txt), CI too
(.ci/run); elsewhere ``apt install fonts-wqy-microhei`` (or any font of ``CJK_FONTS``).
"""

from __future__ import annotations

import base64
import functools
import io
import math
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from course_lib.i18n import N_, _, language
from course_lib.measure.stats import mean_ci
from course_lib.views.label_placement import place_labels

X_COL = "unique_params"
SPEED_COL = "tokens_per_s"
LABEL_COLS = ("name", "plan", "sharing")  # the first one present labels each point
MARKER_SIZE = 60.0  # scatter size, points squared
SHIPPED_SHIFT = 1.08  # shipped intervals sit this factor right of your points (log x)
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Noto Sans CJK JP",
             "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "SimHei",
             "Microsoft YaHei", "PingFang SC", "Heiti SC", "STHeiti", "Arial Unicode MS")  # fmt: skip
CJK_FILES = re.compile(r"(?i)cjk|sourcehan|wqy|droidsansfallback|simhei|msyh|pingfang|stheiti")


@functools.cache
def cjk_font() -> str | None:
    """The first font of ``CJK_FONTS`` that matplotlib finds on this machine, or None."""
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    if not have.intersection(CJK_FONTS):  # installed after matplotlib cached its font list?
        for path in font_manager.findSystemFonts():
            if CJK_FILES.search(Path(path).name):
                font_manager.fontManager.addfont(path)
        have = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in have), None)


def F_(message: str) -> str:
    """Figure text: ``_(message)``, unless the language is Chinese and no CJK font can draw it,
    then the English ``message`` (boxes would say nothing)."""
    if language() == "zh" and cjk_font() is None:
        return message
    return _(message)


def language_fonts() -> None:
    """Under ``COURSE_LANG=zh``: a CJK font as the fallback family of all text, and no
    missing-glyph warnings (where no CJK font exists); in English, nothing.

    matplotlib falls back glyph by glyph only along ``font.family`` (a generic family such
    as "sans-serif" resolves to one font), so the CJK font is appended there: Latin glyphs
    stay in the first family's font (DejaVu Sans), Chinese ones come from the CJK font."""
    if language() != "zh":
        return
    import matplotlib

    warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
    font = cjk_font()
    family = list(matplotlib.rcParams["font.family"])
    if font is not None and font not in family:
        matplotlib.rcParams["font.family"] = family + [font]


def pareto_front(df: pd.DataFrame, x: str, y: str, maximize_y: bool = True) -> pd.Series:
    """True for rows no other row beats: none has x <= and y better-or-equal, one strictly.

    Smaller ``x`` is better; larger ``y`` is better unless ``maximize_y=False`` (a loss).
    Rows with a missing x or y are never on the front. Returns a boolean Series on df.index.
    """
    for col in (x, y):
        if col not in df.columns:
            raise ValueError(
                _("column {col!r} is missing: the table has {columns}").format(
                    col=col, columns=list(df.columns)
                )
            )
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
        _("the results need an 'accuracy' or a 'val_loss' column; they have {columns}").format(
            columns=list(df.columns)
        )
    )


def plan_labels(df: pd.DataFrame) -> list[str]:
    """A short label per row: ``name`` (or ``plan``), else sharing and M."""
    for col in LABEL_COLS[:2]:
        if col in df.columns:
            return [str(v) for v in df[col]]
    if "sharing" not in df.columns:
        return [str(i) for i in df.index]
    labels = []
    for _i, row in df.iterrows():
        m = row.get("n_blocks")
        has_m = m is not None and not (isinstance(m, float) and math.isnan(m))
        labels.append(f"{row['sharing']} M={int(m)}" if has_m else str(row["sharing"]))
    return labels


def aggregate_runs(df: pd.DataFrame, y: str) -> pd.DataFrame:
    """One row per plan label: x, mean y with its 95% interval, median speed, seeds."""
    data = df.assign(_label=plan_labels(df))
    rows = []
    for label, g in data.groupby("_label", sort=False):
        ys = g[y].dropna()
        ci = mean_ci(ys) if len(ys) else None
        speed = g[SPEED_COL].median() if SPEED_COL in g.columns else math.nan
        rows.append({"label": label, X_COL: g[X_COL].iloc[0], y: ci.mean if ci else math.nan,
                     "low": ci.low if ci else math.nan, "high": ci.high if ci else math.nan,
                     "n": len(ys), SPEED_COL: speed})  # fmt: skip
    return pd.DataFrame(rows, columns=["label", X_COL, y, "low", "high", "n", SPEED_COL])


def _error_bars(ax, agg: pd.DataFrame, y: str, x_factor: float = 1.0, **style) -> None:
    bounded = agg[agg["low"].apply(math.isfinite) & (agg["n"] >= 2)]
    if len(bounded):
        err = [bounded[y] - bounded["low"], bounded["high"] - bounded[y]]
        ax.errorbar(bounded[X_COL] * x_factor, bounded[y], yerr=err, ls="", capsize=3,
                    zorder=2.5, **style)  # fmt: skip


def _speed_norm(agg: pd.DataFrame):
    from matplotlib.colors import LogNorm, Normalize

    speeds = [v for v in agg[SPEED_COL].astype(float) if v == v and v > 0]
    if not speeds:
        return None
    lo, hi = min(speeds), max(speeds)
    return LogNorm(lo, hi) if hi > 2 * lo else Normalize(lo, hi if hi > lo else lo + 1)


def _panel(ax, agg: pd.DataFrame, y: str, larger: bool, name: str, colour: str) -> list:
    """Means with interval bars, speed colours and the Pareto front; returns legend handles."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    norm, cmap = _speed_norm(agg), plt.get_cmap("viridis")
    colours = colour if norm is None else [
        cmap(norm(v)) if v == v and v > 0 else "lightgray" for v in agg[SPEED_COL]]  # fmt: skip
    _error_bars(ax, agg, y, color="black", lw=1.0)
    ax.scatter(agg[X_COL], agg[y], c=colours, s=MARKER_SIZE, edgecolors="black", linewidths=0.6,
               zorder=3)  # fmt: skip
    seeds = (F_("one seed each, no interval") if agg["n"].max() == 1
             else F_("mean of {seeds} seeds, 95% interval").format(seeds=_seed_range(agg)))  # fmt: skip
    handles = [Line2D([], [], ls="", marker="o", color="white", mec="black",
                      label=f"{name}: {seeds}")]  # fmt: skip
    front = agg[pareto_front(agg, X_COL, y, maximize_y=larger)].sort_values(X_COL)
    if len(front) > 1:
        (line,) = ax.plot(front[X_COL], front[y], "--", color=colour, lw=1.0, zorder=2,
                          label=F_("Pareto front"))  # fmt: skip
        handles.append(line)
    if norm is not None:
        ax.figure.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax,
                           label=F_("training speed (tokens/s)"))  # fmt: skip
    return handles


def _limits(ax, aggs: list[pd.DataFrame], y: str, baseline: float | None) -> None:
    """Log x with room for labels on both sides; y covering intervals and the baseline."""
    xs = pd.concat([a[X_COL] for a in aggs]).astype(float)
    ys = pd.concat([a[c] for a in aggs for c in (y, "low", "high")]).astype(float)
    ys = ys[ys.apply(math.isfinite)].tolist() + ([baseline] if baseline is not None else [])
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.set_xlim(xs.min() / 1.6, xs.max() * 2.6)
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _short_count(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    lo, hi = min(ys), max(ys)
    span = hi - lo if hi > lo else abs(hi) * 0.05 + 1e-3
    ax.set_ylim(lo - 0.18 * span, hi + 0.18 * span)


def _short_count(v: float) -> str:
    """60k, 1.5M, 2B: a parameter count for an axis tick."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:g}{unit}"
    return f"{v:g}"


def _label_points(ax, points: list[tuple[float, float, str]], obstacles_xy, baseline, base_text):
    """Annotate each point (and the baseline) where ``place_labels`` finds room."""
    if not hasattr(ax.figure.canvas, "get_renderer"):  # a bare Figure (new_figure)
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(ax.figure)
    renderer = ax.figure.canvas.get_renderer()
    px = ax.figure.dpi / 72.0  # pixels per point
    radius = math.sqrt(MARKER_SIZE) / 2 * px + 1.5
    to_px = ax.transData.transform
    obstacles = [(x - radius, y - radius, x + radius, y + radius)
                 for x, y in (to_px(p) for p in obstacles_xy)]  # fmt: skip
    if baseline is not None:  # labels keep off the baseline and the error bars
        x0, x1 = ax.get_window_extent(renderer).intervalx
        y_line = to_px((1.0, baseline))[1]
        obstacles.append((x0, y_line - 1.5, x1, y_line + 1.5))
    for coll in ax.collections:  # errorbar's vertical lines are a LineCollection
        for seg in getattr(coll, "get_segments", lambda: [])():
            s = to_px(seg)
            obstacles.append((s[:, 0].min() - 2, s[:, 1].min(), s[:, 0].max() + 2, s[:, 1].max()))
    texts = ([base_text] if baseline is not None else []) + [t for *_, t in points]
    anchors = [
        tuple(to_px((ax.get_xlim()[0], baseline))) for _ in texts[:1] if baseline is not None
    ]
    anchors += [tuple(to_px((x, y))) for x, y, _ in points]
    sizes = []
    for text in texts:
        probe = ax.text(0, 0, text, fontsize=7.5)
        box = probe.get_window_extent(renderer)
        sizes.append((box.width, box.height))
        probe.remove()
    bounds = tuple(ax.get_window_extent(renderer).extents)
    boxes = place_labels(anchors, sizes, obstacles, bounds, gap=radius + 2)
    for (ax0, ay0), text, box in zip(anchors, texts, boxes, strict=True):
        far = math.hypot(max(box[0] - ax0, ax0 - box[2], 0), max(box[1] - ay0, ay0 - box[3], 0))
        arrow = {"arrowstyle": "-", "lw": 0.4, "color": "0.5"} if far > 3 * radius else None
        grey = text == base_text and baseline is not None
        offset = ((box[0] - ax0) / px, (box[1] - ay0) / px)  # points: survives a new dpi
        ax.annotate(text, ax.transData.inverted().transform((ax0, ay0)), xytext=offset,
                    textcoords="offset points", ha="left", va="bottom", fontsize=7.5,
                    color="0.35" if grey else "black", arrowprops=arrow, annotation_clip=False)  # fmt: skip


def _panel_axes(ax, n_panels: int):
    import matplotlib.pyplot as plt

    language_fonts()
    if ax is None:
        _fig, axes = plt.subplots(1, n_panels, figsize=(6.2 * n_panels, 4.6), squeeze=False)
        return list(axes[0])
    if isinstance(ax, list | tuple):
        if len(ax) != n_panels:
            raise ValueError(
                _("ax: pass {n_panels} Axes (one per panel), got {n}").format(
                    n_panels=n_panels, n=len(ax)
                )
            )
        return list(ax)
    if n_panels == 1:
        return [ax]
    fig, spec = ax.figure, ax.get_subplotspec()  # one Axes given: split it in two
    ax.remove()
    width, height = fig.get_size_inches()
    if width < 5.5 * n_panels:  # each panel and its colour bar need about 5.5 inches
        fig.set_size_inches(5.5 * n_panels + 1, height)
    grid = spec.subgridspec(1, n_panels, wspace=0.35)
    return [fig.add_subplot(grid[0, i]) for i in range(n_panels)]


def plot_params_vs_accuracy(
    df: pd.DataFrame,
    reference_df: pd.DataFrame | None = None,
    ax=None,
    baseline: float | None = None,
    *,
    shipped_df: pd.DataFrame | None = None,
    baseline_label: str = N_("baseline"),
    titles: tuple[str, str] = (N_("your runs (this machine)"), N_("shipped GPU runs")),
) -> list:
    """The headline figure; returns its panels (a list of Axes: yours, then the GPU's).

    ``df``: your runs, one row per run (several seeds per plan give interval bars).
    ``reference_df``: the shipped GPU runs, drawn in a second panel with its own speed
    scale. ``shipped_df``: shipped runs of your configuration (e.g. ``cpu_seeds.csv``),
    drawn beside your points as grey means with 95% intervals. ``baseline``: a dotted,
    labelled line (``baseline_label``) in every panel. ``ax``: one Axes (split in two when
    there is a reference) or one Axes per panel.
    """
    for name, data in (("df", df), ("reference_df", reference_df), ("shipped_df", shipped_df)):
        if data is not None and X_COL not in data.columns:
            raise ValueError(
                _("{name}: column {X_COL!r} is missing: it has {columns}").format(
                    name=name, X_COL=X_COL, columns=list(data.columns)
                )
            )
    if not len(df) and (reference_df is None or not len(reference_df)):
        raise ValueError(_("df: no runs to plot (and no reference_df); train a plan first"))
    y, larger = quality_column(df if len(df) else reference_df)
    for name, data in (("reference_df", reference_df), ("shipped_df", shipped_df)):
        if data is not None and y not in data.columns:
            raise ValueError(
                _("{name} needs the columns {X_COL!r} and {y!r} like df").format(
                    name=name, X_COL=X_COL, y=y
                )
            )
    panels = [(titles[0], df, shipped_df)] if len(df) or shipped_df is not None else []
    if reference_df is not None and len(reference_df):
        panels.append((titles[1], reference_df, None))
    axes = _panel_axes(ax, len(panels))
    base_text = f"{F_(baseline_label)} {baseline:.3f}" if baseline is not None else ""
    placements = []
    for axis, (title, data, shipped) in zip(axes, panels, strict=True):
        agg = aggregate_runs(data, y) if len(data) else aggregate_runs(shipped, y)
        handles = _panel(axis, agg, y, larger, F_("runs"), "tab:blue")
        aggs, obstacles = [agg], list(zip(agg[X_COL], agg[y], strict=True))
        if shipped is not None and len(shipped) and len(data):
            ship = aggregate_runs(shipped, y)
            _error_bars(axis, ship, y, SHIPPED_SHIFT, color="0.55", lw=1.0, marker="s",
                        ms=5, mfc="white", mec="0.45")  # fmt: skip
            handles[0].set_label(handles[0].get_label().replace(F_("runs"), F_("yours"), 1))
            handles.append(_shipped_handle(ship))
            aggs.append(ship)
            obstacles += [(x * SHIPPED_SHIFT, v) for x, v in zip(ship[X_COL], ship[y], strict=True)]
        if baseline is not None:
            axis.axhline(baseline, color="gray", lw=0.9, ls=":", zorder=1)
        _limits(axis, aggs, y, baseline)
        axis.set_title(F_(title), fontsize=10)
        axis.set_xlabel(F_("unique parameters (log scale)"))
        axis.set_ylabel(
            F_("test accuracy") if y == "accuracy" else F_("validation loss (lower is better)")
        )
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(handles=handles, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                    ncol=1, frameon=False)  # fmt: skip
        points = list(zip(agg[X_COL], agg[y], agg["label"], strict=True))
        if len(aggs) > 1:  # shipped plans you did not run are labelled at their own marker
            only = aggs[1][~aggs[1]["label"].isin(agg["label"])]
            points += zip(only[X_COL] * SHIPPED_SHIFT, only[y], only["label"], strict=True)
        placements.append((axis, points, obstacles))
    fig = axes[0].figure
    if not fig.get_constrained_layout():
        fig.tight_layout()  # the final axes sizes, before labels are placed in pixels
    for axis, points, obstacles in placements:
        _label_points(axis, points, obstacles, baseline, base_text)
    return axes


def _shipped_handle(ship: pd.DataFrame):
    from matplotlib.lines import Line2D

    return Line2D([], [], ls="", marker="s", color="0.55", mfc="white", mec="0.45",
                  label=F_("shipped CPU runs: mean of {seeds} seeds, 95% interval").format(
                      seeds=_seed_range(ship)))  # fmt: skip


def _seed_range(agg: pd.DataFrame) -> str:
    lo, hi = agg["n"].min(), agg["n"].max()
    return f"{lo}" if lo == hi else F_("{lo} to {hi}").format(lo=lo, hi=hi)


def png_output(fig) -> dict[str, Any]:
    """A figure as one display-data output for ``Output.outputs`` (no inline backend needed)."""
    language_fonts()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": data, "text/plain": "<Figure>"}}  # fmt: skip


def new_figure(width: float, height: float):
    """A figure not registered with pyplot, so the notebook never shows it twice."""
    from matplotlib.figure import Figure

    language_fonts()
    return Figure(figsize=(width, height))
