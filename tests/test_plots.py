"""The headline figure and its Pareto front."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from course_lib.plots import (  # noqa: E402
    pareto_front,
    plan_labels,
    plot_params_vs_accuracy,
    quality_column,
    spread_labels,
)


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


def test_headline_figure_with_reference_overlay():
    ref = results().assign(accuracy=[0.85, 0.80, 0.84, 0.83, 0.75], tokens_per_s=9e4)
    ax = plot_params_vs_accuracy(results(), reference_df=ref)
    assert ax.get_xscale() == "log"
    assert ax.get_ylabel() == "test accuracy"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["your runs", "Pareto front (your runs)", "reference (FULL)",
                      "Pareto front (reference (FULL))"]  # fmt: skip
    assert len(ax.collections) == 2  # one scatter per set
    assert {t.get_text() for t in ax.texts} >= {"none", "cycle M=3"}
    front_line = ax.get_lines()[0]
    assert list(front_line.get_xdata()) == [1_000_000, 3_000_000, 6_000_000, 10_000_000]
    assert len(ax.figure.axes) == 2  # the speed colorbar
    plt.close(ax.figure)
    ax = plot_params_vs_accuracy(results(), baseline=0.5)
    assert [list(line.get_ydata()) for line in ax.get_lines()][-1] == [0.5, 0.5]
    plt.close(ax.figure)


def test_headline_figure_for_a_language_model_and_without_speed():
    lm = (
        results()
        .drop(columns=["accuracy", "tokens_per_s"])
        .assign(val_loss=[2.0, 2.5, 2.1, 2.2, 2.9])
    )
    fig, ax = plt.subplots()
    assert plot_params_vs_accuracy(lm, ax=ax) is ax
    assert ax.get_ylabel().startswith("validation loss")
    assert len(fig.axes) == 1  # no speed, no colorbar
    plt.close(fig)


def test_spread_labels_moves_only_labels_that_would_overlap():
    points = [(0.0, 100.0), (10.0, 99.0), (300.0, 99.0), (12.0, 40.0)]
    offsets = spread_labels(points, width=60.0, height=8.0)
    assert offsets[0] == 0.0  # the top label stays
    assert offsets[1] == -7.0  # moved to just below the first label (100 - 8 = 92)
    assert offsets[2] == 0.0  # far to the right: no overlap
    assert offsets[3] == 0.0  # far below: no overlap
    boxes = [(x, y + dy) for (x, y), dy in zip(points, offsets, strict=True)]
    for i, (xa, ya) in enumerate(boxes):
        for xb, yb in boxes[i + 1 :]:
            assert abs(xa - xb) >= 60.0 or abs(ya - yb) >= 8.0


def test_headline_figure_names_a_missing_column():
    with pytest.raises(ValueError, match="'unique_params' is missing"):
        plot_params_vs_accuracy(results().drop(columns="unique_params"))
    with pytest.raises(ValueError, match="reference_df needs"):
        plot_params_vs_accuracy(results(), reference_df=results().drop(columns="accuracy"))
