"""course_lib.measure.speed_report: notebook 08's tables from the shipped results and own timings."""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from course_lib.measure.speed_report import (
    SWEEP_CSV,
    load_benchmark,
    provenance,
    speed_ratios,
    sweep_memory_speed,
    timing_results,
)
from course_lib.measure.timing import Timing
from course_lib.views.speed_figures import plot_speed_ratios, plot_what_changes


def test_shipped_gpu_benchmark_loads_with_its_provenance():
    gpu = load_benchmark("sharing_speed_gpu")
    assert gpu["benchmark"] == "sharing_speed"
    text = provenance(gpu)
    assert text.startswith(gpu["machine"]["gpu"]) and gpu["machine"]["torch"] in text
    table = speed_ratios(gpu["results"])
    assert (table.loc["none", ["train_step", "latency_b1", "latency_large"]] == 1.0).all()
    assert set(table["large_batch"]) == {gpu["config"]["large_batch"]}


def test_load_benchmark_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="benchmark='nope' is not allowed"):
        load_benchmark("nope", tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_benchmark("bad", tmp_path)
    (tmp_path / "partial.json").write_text(json.dumps({"benchmark": "x"}))
    with pytest.raises(ValueError, match=r"lacks key\(s\) \['machine', 'results'\]"):
        load_benchmark("partial", tmp_path)


def test_provenance_of_a_cpu_run():
    payload = {"machine": {"cpu": "AMD EPYC", "torch_threads": 1, "torch": "2.13.0", "date": "d"}}
    assert provenance(payload) == "AMD EPYC (1 threads), torch 2.13.0, d"


def _t(*times):
    return Timing(sorted(times)[len(times) // 2], min(times), len(times), tuple(times))


def test_timing_results_pair_rounds_like_the_benchmark():
    times = {
        "train_step": {"none": _t(2.0, 4.0, 2.0), "all": _t(1.0, 2.0, 1.0)},
        "latency_b1": {"none": _t(1.0, 1.0, 1.0), "all": _t(1.0, 1.0, 1.0)},
        "latency_b16": {"none": _t(3.0, 3.0, 3.0), "all": _t(1.5, 6.0, 1.5)},
    }
    res = timing_results(times)
    assert res["all"]["train_step_ratio"] == 2.0 and res["all"]["train_step_ms"] == 1000.0
    table = speed_ratios(res)
    assert table.loc["all", "latency_large"] == 2.0  # the median of 2, 0.5, 2
    assert table.loc["all", "large_batch"] == 16
    with pytest.raises(ValueError, match="no 'none' entry"):
        timing_results({"train_step": {"all": _t(1.0)}})


def test_speed_ratios_needs_exactly_one_large_batch():
    row = {"train_step_ratio": 1.0, "latency_b1_ratio": 1.0}
    with pytest.raises(ValueError, match="one large-batch latency"):
        speed_ratios({"none": row})
    with pytest.raises(ValueError, match="one large-batch latency"):
        speed_ratios({"none": {**row, "latency_b8_ratio": 1.0, "latency_b32_ratio": 1.0}})


def sweep(**changes):
    df = pd.DataFrame(
        {
            "dataset": ["a", "a", "a", "b", "b"],
            "n_layers": [6, 6, 6, 6, 6],
            "sharing": ["none", "all", "cycle", "none", "all"],
            "name": ["none N6", "all N6", "cycle N6 M3", "none N6", "all N6"],
            "unique_params": [3 * 2**20, 2**20, 2 * 2**20, 2**20, 2**19],
            "tokens_per_s": [100.0, 150.0, 90.0, 10.0, 20.0],
            "peak_mem_mb": [500.0, 470.0, 486.0, 100.0, 93.0],
        }
    )
    return df.assign(**changes)


def test_sweep_memory_speed_predicts_16_bytes_per_saved_parameter():
    rep = sweep_memory_speed(sweep())
    a = rep[rep["dataset"] == "a"].set_index("name")
    assert a.loc["all N6", "predicted_drop_mib"] == 32.0  # 2 Mi params x 16 B
    assert a.loc["all N6", "measured_drop_mib"] == 30.0
    assert a.loc["cycle N6 M3", "tokens_per_s_ratio"] == 0.9
    b = rep[rep["dataset"] == "b"].set_index("name")
    assert (
        b.loc["all N6", "tokens_per_s_ratio"] == 2.0 and b.loc["none N6", "predicted_drop_mib"] == 0
    )


def test_sweep_memory_speed_errors():
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['peak_mem_mb'\]"):
        sweep_memory_speed(sweep().drop(columns="peak_mem_mb"))
    with pytest.raises(ValueError, match="expected one 'none' run, found 0"):
        sweep_memory_speed(sweep(sharing=["all"] * 5))


def test_shipped_sweep_peak_memory_falls_by_about_the_prediction():
    rep = sweep_memory_speed(pd.read_csv(SWEEP_CSV))
    shared = rep[rep["predicted_drop_mib"] > 0]
    assert len(shared) == 24
    assert (shared["measured_drop_mib"] / shared["predicted_drop_mib"]).between(0.8, 1.2).all()


def test_plots_draw_one_bar_per_plan_and_quantity():
    table = pd.DataFrame({"params": [10, 5], "flops": [3.0, 3.0]}, index=["none", "all"])
    ax = plot_what_changes(table)
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == [0.5, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="no 'none' row"):
        plot_what_changes(table.rename(index={"none": "base"}))
    ratios = speed_ratios(load_benchmark("sharing_speed_gpu")["results"])
    axes = plot_speed_ratios({"GPU": ratios, "again": ratios})
    assert len(axes) == 2 and len(axes[0].patches) == 3 * len(ratios)
    with pytest.raises(ValueError, match="got 1 axes for 2 tables"):
        plot_speed_ratios({"GPU": ratios, "again": ratios}, ax=axes[0])
    plt.close("all")


def _bars_inside(ax) -> bool:
    low, high = ax.get_ylim()
    bars = [p for p in ax.patches if p.get_width() > 0]
    return all(low <= min(p.get_y(), p.get_y() + p.get_height()) and
               max(p.get_y(), p.get_y() + p.get_height()) <= high for p in bars)  # fmt: skip


def test_speed_ratio_bars_all_lie_inside_their_own_axes():
    # a panel with a bar far below 0.8 and one with bars near 1, drawn side by side: with
    # sharey the second panel's limits won and the 0.45 bar of the first was cut off
    low = pd.DataFrame({"train_step": [1.0, 0.45], "latency_b1": [1.0, 1.9],
                        "latency_large": [1.0, 0.99]}, index=["none", "all"])  # fmt: skip
    near = pd.DataFrame({"train_step": [1.0, 0.99, 1.01], "latency_b1": [1.0, 1.0, 0.98],
                         "latency_large": [1.0, 1.01, 1.02]},
                        index=["none", "none twin", "all"])  # fmt: skip
    fig, axes = plt.subplots(1, 2)
    plot_speed_ratios({"low": low, "near": near}, ax=axes)
    fig.canvas.draw()
    for ax, t in zip(axes, (low, near), strict=True):
        assert _bars_inside(ax)
        tops = sorted(round(p.get_y() + p.get_height(), 6) for p in ax.patches)
        assert tops == sorted(round(v, 6) for v in t.to_numpy().ravel())  # no bar dropped
        renderer = fig.canvas.get_renderer()
        box = ax.get_window_extent(renderer)
        for p in ax.patches:  # and on the rendered figure, inside the panel
            ext = p.get_window_extent(renderer)
            assert box.y0 - 1 <= ext.y0 and ext.y1 <= box.y1 + 1
    assert axes[0].get_ylim() != axes[1].get_ylim()  # each panel its own range
    colours = [{c.get_label(): c.patches[0].get_facecolor() for c in ax.containers} for ax in axes]
    assert colours[0]["all"] == colours[1]["all"]  # a plan keeps its colour across panels
    plt.close(fig)


def test_speed_ratios_carry_phases_and_noise_floors_into_the_figure():
    times = {
        what: {"none": _t(2.0, 2.0, 2.0, 2.0), "none twin": _t(2.0, 2.0, 2.2, 2.0),
               "all": _t(1.0, 1.0, 1.0, 1.0)}
        for what in ("forward", "train_step", "latency_b1", "latency_b8")
    }  # fmt: skip
    res = timing_results(times)
    assert res["all"]["forward_verdict"] == "faster" and res["none twin"]["forward_ratio"] == 1
    table = speed_ratios(res)
    assert {"forward", "forward_floor", "latency_large_floor"} <= set(table.columns)
    ax = plot_speed_ratios({"x": table})[0]
    floor = table["forward_floor"].max()
    assert _bars_inside(ax) and ax.get_ylim()[0] < 1 - floor and ax.get_ylim()[1] > 2.0
    plt.close("all")
