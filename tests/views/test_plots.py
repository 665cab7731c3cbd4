"""The headline figure: panels, intervals, Pareto front, labels that overlap nothing; the plan map."""

import matplotlib

matplotlib.use("Agg")

import math

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.text import Text

from course_lib.nn.sharing import SharingPlan
from course_lib.views.figures import (
    aggregate_runs,
    pareto_front,
    plan_labels,
    plot_params_vs_accuracy,
    quality_column,
)
from course_lib.views.label_placement import overlap_area, place_labels
from course_lib.views.model_figures import plot_plan


def results(**extra):
    df = pd.DataFrame(
        {
            "name": ["none", "all", "attention", "cycle M=3", "worse"],
            "unique_params": [10_000_000, 1_000_000, 6_000_000, 3_000_000, 8_000_000],
            "accuracy": [0.80, 0.74, 0.79, 0.78, 0.70],
            "tokens_per_s": [5000.0, 5100.0, 4900.0, 5050.0, 1000.0],
        }
    )
    return df.assign(**extra)


def test_pareto_front_keeps_only_undominated_rows():
    front = pareto_front(results(), "unique_params", "accuracy")
    assert front.tolist() == [True, True, True, True, False]


def test_pareto_front_with_a_loss_prefers_lower_values():
    df = pd.DataFrame({"p": [1, 2, 3, 4], "loss": [2.0, 1.5, 1.7, 1.0]})
    assert pareto_front(df, "p", "loss", maximize_y=False).tolist() == [True, True, False, True]
    assert pareto_front(df, "p", "loss").tolist() == [True, False, False, False]


def test_pareto_front_ties_and_missing_values():
    df = pd.DataFrame({"p": [1, 1, 2, 3], "acc": [0.5, 0.5, float("nan"), 0.4]})
    assert pareto_front(df, "p", "acc").tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="'speed' is missing"):
        pareto_front(df, "speed", "acc")


def test_quality_column_picks_accuracy_or_val_loss():
    assert quality_column(results()) == ("accuracy", True)
    lm = results().drop(columns="accuracy").assign(val_loss=[2.0, 2.5, 2.1, 2.2, 2.9])
    assert quality_column(lm) == ("val_loss", False)
    with pytest.raises(ValueError, match="'accuracy' or a 'val_loss'"):
        quality_column(results().drop(columns="accuracy"))


def test_plan_labels_fall_back_to_sharing_and_m():
    df = pd.DataFrame({"sharing": ["none", "cycle"], "n_blocks": [None, 3]})
    assert plan_labels(df) == ["none", "cycle M=3"]


def seeded(df, n_seeds=3, spread=0.01):
    """``df`` repeated over seeds, the accuracy moved by a fixed pattern per seed."""
    pattern = [0.0, spread, -spread, spread / 2, -spread / 2][:n_seeds]
    return pd.concat(
        [df.assign(seed=s, accuracy=df["accuracy"] + d) for s, d in enumerate(pattern)]
    )


def gpu_runs():
    from course_lib.data.shipped import data_dir

    gpu = pd.read_csv(data_dir() / "results" / "full_sweep.csv")
    return gpu[gpu["dataset"] == "rotten_tomatoes"].reset_index(drop=True)


def marker_boxes(ax, renderer):
    """Pixel boxes of every marker: scatter points and errorbar markers."""
    px = ax.figure.dpi / 72.0
    boxes = []
    for coll in ax.collections:
        if hasattr(coll, "get_sizes") and len(coll.get_sizes()):
            r = math.sqrt(coll.get_sizes()[0]) / 2 * px
            for x, y in ax.transData.transform(coll.get_offsets()):
                boxes.append((x - r, y - r, x + r, y + r))
    for line in ax.get_lines():
        if line.get_marker() not in ("None", None, "", "_") and line.get_linestyle() == "None":
            r = line.get_markersize() / 2 * px
            for x, y in ax.transData.transform(line.get_xydata()):
                boxes.append((x - r, y - r, x + r, y + r))
    return boxes


def assert_labels_clear(fig):
    """No label on another label, none on a marker, every label inside its axes."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        texts = [t for t in ax.texts if t.get_text()]
        # the text alone: an Annotation's own extent includes its leader line, which ends at
        # its marker by design
        boxes = [tuple(Text.get_window_extent(t, renderer).extents) for t in texts]
        for i, a in enumerate(boxes):
            for j, b in enumerate(boxes[i + 1 :], i + 1):
                assert overlap_area(a, b) == 0, (texts[i].get_text(), texts[j].get_text())
            for m in marker_boxes(ax, renderer):
                assert overlap_area(a, m) == 0, f"{texts[i].get_text()!r} sits on a marker"
            x0, y0, x1, y1 = ax.get_window_extent(renderer).extents
            assert a[0] >= x0 - 1 and a[2] <= x1 + 1 and a[1] >= y0 - 1 and a[3] <= y1 + 1


def test_aggregate_runs_gives_a_mean_and_an_interval_per_plan():
    agg = aggregate_runs(seeded(results(), 3), "accuracy").set_index("label")
    assert agg.loc["none", "accuracy"] == pytest.approx(0.80)
    assert agg.loc["none", "n"] == 3
    assert agg.loc["none", "low"] < 0.80 < agg.loc["none", "high"]
    one = aggregate_runs(results(), "accuracy").set_index("label")
    assert one.loc["none", "n"] == 1 and math.isinf(one.loc["none", "low"])


def test_headline_figure_two_panels_each_with_its_own_speed_scale():
    ref = results().assign(accuracy=[0.85, 0.80, 0.84, 0.83, 0.75], tokens_per_s=9e4)
    ref.loc[0, "tokens_per_s"] = 3e5
    axes = plot_params_vs_accuracy(seeded(results()), reference_df=ref, baseline=0.5,
                                   baseline_label="majority baseline")  # fmt: skip
    fig = axes[0].figure
    assert len(axes) == 2 and len(fig.axes) == 4  # two panels, two colorbars
    colorbars = [a for a in fig.axes if a not in axes]
    limits = sorted(cb.get_ylim() for cb in colorbars)
    assert limits[0] != limits[1]  # one scale per panel: CPU and GPU speeds never share one
    for ax in axes:
        assert ax.get_xscale() == "log" and ax.get_ylabel() == "test accuracy"
        assert any(t.get_text() == "majority baseline 0.500" for t in ax.texts)
        assert [
            list(line.get_ydata()) for line in ax.get_lines() if line.get_linestyle() == ":"
        ] == [[0.5, 0.5]]
    legend = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert legend[0] == "runs: mean of 3 seeds, 95% interval"
    assert "one seed each, no interval" in axes[1].get_legend().get_texts()[0].get_text()
    bars = [c for c in axes[0].collections if type(c).__name__ == "LineCollection"]
    assert len(bars) == 1 and len(bars[0].get_segments()) == 5  # an interval bar per plan
    assert_labels_clear(fig)
    plt.close(fig)


def test_headline_figure_with_the_shipped_cpu_seeds_beside_yours():
    mine = seeded(results(), 2).query("name != 'worse'")  # "worse": only shipped
    shipped = seeded(results(), 5, spread=0.02)
    axes = plot_params_vs_accuracy(mine, shipped_df=shipped, baseline=0.6)
    legend = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert legend[0] == "yours: mean of 2 seeds, 95% interval"
    assert legend[-1].startswith("shipped CPU runs: mean of 5 seeds")
    assert {t.get_text() for t in axes[0].texts} == {"none", "all", "attention", "cycle M=3",
                                                     "worse", "baseline 0.600"}  # fmt: skip
    assert sum(t.get_text() == "worse" for t in axes[0].texts) == 1  # labelled once, shipped
    assert_labels_clear(axes[0].figure)
    plt.close(axes[0].figure)


def test_crowded_gpu_sweep_labels_touch_no_marker_and_no_label():
    """The real 14 GPU runs: three plans share x at each depth, accuracies within 2 points."""
    fig, ax = plt.subplots(figsize=(9, 5.5))
    mine = seeded(results(), 3)
    axes = plot_params_vs_accuracy(mine, reference_df=gpu_runs(), ax=ax, baseline=0.578)
    assert len(axes) == 2 and ax not in fig.axes  # the one Axes given was split in two
    assert fig.get_size_inches()[0] == 12  # widened: two panels and two colour bars
    assert len(axes[1].texts) == 15  # 14 runs and the baseline
    fig.tight_layout()  # what the notebooks do afterwards must not break the placement
    assert_labels_clear(fig)
    plt.close(fig)


def test_headline_figure_for_a_language_model_and_without_speed():
    lm = (
        results()
        .drop(columns=["accuracy", "tokens_per_s"])
        .assign(val_loss=[2.0, 2.5, 2.1, 2.2, 2.9])
    )
    fig, ax = plt.subplots()
    assert plot_params_vs_accuracy(lm, ax=ax, baseline=3.3, baseline_label="unigram") == [ax]
    assert ax.get_ylabel().startswith("validation loss")
    assert len(fig.axes) == 1  # no speed, no colorbar
    assert_labels_clear(fig)
    plt.close(fig)


def test_place_labels_avoids_obstacles_and_earlier_labels():
    anchors = [(100.0, 100.0), (100.0, 100.0)]  # two labels for one point
    boxes = place_labels(anchors, [(40.0, 10.0)] * 2, obstacles=[(96, 96, 104, 104)],
                         bounds=(0, 0, 400, 400), gap=6.0)  # fmt: skip
    assert boxes[0] == (106.0, 95.0, 146.0, 105.0)  # right of the point, nearest ring
    assert overlap_area(boxes[0], boxes[1]) == 0 and overlap_area(boxes[1], (96, 96, 104, 104)) == 0
    edge = place_labels([(395.0, 200.0)], [(40.0, 10.0)], [], (0, 0, 400, 400), 6.0)[0]
    assert edge[2] <= 400  # no room on the right: it goes left
    with pytest.raises(ValueError, match="differ in length"):
        place_labels(anchors, [(1.0, 1.0)], [], (0, 0, 1, 1), 1.0)


def test_headline_figure_names_a_missing_column():
    with pytest.raises(ValueError, match="'unique_params' is missing"):
        plot_params_vs_accuracy(results().drop(columns="unique_params"))
    with pytest.raises(ValueError, match="reference_df needs"):
        plot_params_vs_accuracy(results(), reference_df=results().drop(columns="accuracy"))
    with pytest.raises(ValueError, match="pass 2 Axes"):
        plot_params_vs_accuracy(results(), reference_df=results(), ax=[plt.gca()])
    plt.close("all")


def test_plan_map_draws_one_box_per_sublayer_in_its_weight_set_colour():
    """views.model_figures.plot_plan (notebooks 04, 05): the plan stays plain data."""
    plan = SharingPlan.make("cycle", 6, 3)
    ax = plot_plan(plan)
    assert len(ax.patches) == 12  # 6 layers x (attention, FFN)
    assert ax.get_title() == "cycle: 3 attn, 3 FFN sets"
    labels = [t.get_text() for t in ax.texts]
    assert (
        labels[:6] == ["A0", "A1", "A2", "A0", "A1", "A2"] and labels[6:] == ["F0", "F1", "F2"] * 2
    )
    colours = [p.get_facecolor() for p in ax.patches]
    assert colours[0] == colours[3] != colours[1]  # layers 0 and 3 share A0: one colour
    assert plot_plan(SharingPlan.make("attention", 4), ax=plt.gca()).get_title() == (
        "attention: 1 attn, 4 FFN sets"
    )
    assert not hasattr(SharingPlan, "plot")
    plt.close("all")
