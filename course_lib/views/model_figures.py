"""Figures of what ``course_lib.nn`` builds: plans and the vision transformer (04, 05, 10).

- ``plot_plan(plan, ax)`` draws a ``course_lib.nn.sharing.SharingPlan`` as its layer ->
  weights map: one row per layer, a column for attention and one for the FFN, each
  weight set a colour and a label (``A0``, ``F3``). Layers that show the same label use
  the same module object. Notebook 04 draws ALBERT's ``all`` (Lan et al. 2020) beside
  Takase & Kiyono's (2021) ``cycle`` and ``sequence``; notebook 05 every strategy and
  the sandwich plans of ``course_lib.nn.variants``; the sharing explorer
  (``course_lib.views.explorer``) shows the same map as a PNG.
- ``plot_comparison(df, ax)`` draws notebook 10's table from
  ``course_lib.experiments.vision.compare_plans``: unique parameters against test accuracy, one
  labelled point per sharing plan of the 8x8 digits ViT (Dosovitskiy et al. 2021).

The plan stays plain data and the table stays a DataFrame: these functions only read
them, and each returns the Axes it drew on (a new figure when ``ax`` is None).
"""

from __future__ import annotations

import pandas as pd

from course_lib.nn.sharing import SharingPlan
from course_lib.views.figures import F_, language_fonts

PLAN_COLOURS = "tab20"  # weight set k gets colour k mod 20


def plot_plan(plan: SharingPlan, ax=None):
    """Draw the layer -> weights map: one row per layer, a colour per weight set."""
    import matplotlib.pyplot as plt  # on first use, as in every view: importing stays cheap

    language_fonts()
    if ax is None:
        _fig, ax = plt.subplots(figsize=(3.2, 0.25 * plan.n_layers + 0.9))
    cmap = plt.get_cmap(PLAN_COLOURS)
    for col, (label, ids) in enumerate((("A", plan.attn_ids), ("F", plan.ffn_ids))):
        for i, k in enumerate(ids):
            ax.add_patch(plt.Rectangle((col, i), 0.9, 0.9, color=cmap(k % 20)))
            ax.text(col + 0.45, i + 0.45, f"{label}{k}", ha="center", va="center", fontsize=8)
    ax.set_xlim(-0.1, 2.0)
    ax.set_ylim(plan.n_layers + 0.1, -0.1)
    ax.set_xticks([0.45, 1.45], [F_("attention"), F_("FFN")])
    ax.set_yticks([i + 0.45 for i in range(plan.n_layers)], [str(i) for i in range(plan.n_layers)])
    ax.set_ylabel(F_("layer"))
    title = F_("{strategy}: {n_attn} attn, {n_ffn} FFN sets").format(
        strategy=plan.strategy, n_attn=plan.n_attn, n_ffn=plan.n_ffn
    )
    ax.set_title(title, fontsize=9)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    return ax


def plot_comparison(df: pd.DataFrame, ax=None):
    """Unique parameters (x) against test accuracy (y), one labelled point per plan."""
    import matplotlib.pyplot as plt

    language_fonts()
    if ax is None:
        _fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.scatter(df["unique_params"], 100 * df["test_accuracy"], s=40, color="tab:blue")
    for _i, row in df.iterrows():
        ax.annotate(
            row["plan"], (row["unique_params"], 100 * row["test_accuracy"]),
            textcoords="offset points", xytext=(5, 4), fontsize=9,
        )  # fmt: skip
    ax.set_xlabel(F_("unique parameters (each shared tensor once)"))
    ax.set_ylabel(F_("test accuracy (%)"))
    ax.set_title(F_("8x8 digits ViT: sharing plans, same depth"), fontsize=10)
    ax.margins(x=0.12, y=0.15)  # room for the labels
    ax.grid(alpha=0.3)
    return ax
