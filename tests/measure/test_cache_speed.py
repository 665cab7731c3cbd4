"""course_lib.measure.cache_speed: cache sizes, where weights fit, and a conclusion that follows
from the numbers (notebook 08). The experiment runs once at toy sizes; its speeds are
never asserted."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from course_lib.measure.cache_speed import (
    cache_experiment,
    cache_sizes,
    cache_story,
    cache_story_text,
    conclusion_holds,
    conclusion_text,
    summarise,
    where_it_fits,
)
from course_lib.views.speed_figures import plot_cache_experiment

MIB = 2**20
CACHES = {"L1d": 32 * 1024, "L2": MIB, "L3": 32 * MIB}


def fake_sysfs(tmp_path, entries):
    for i, (level, kind, size) in enumerate(entries):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "level").write_text(f"{level}\n")
        (d / "type").write_text(f"{kind}\n")
        (d / "size").write_text(f"{size}\n")
    return tmp_path


def test_cache_sizes_read_sysfs_and_skip_instruction_caches(tmp_path):
    folder = fake_sysfs(tmp_path, [(1, "Data", "32K"), (1, "Instruction", "32K"),
                                   (2, "Unified", "1024K"), (3, "Unified", "32M")])  # fmt: skip
    assert cache_sizes(folder) == CACHES


def test_cache_sizes_without_sysfs_fall_back_or_return_empty(tmp_path, monkeypatch):
    import course_lib.measure.cache_speed as cs

    monkeypatch.setattr(cs.os, "sysconf", lambda key: 0)
    assert cache_sizes(tmp_path / "missing") == {}
    monkeypatch.setattr(cs.os, "sysconf", lambda key: 2 * MIB if "LEVEL2" in key else -1)
    assert cache_sizes(tmp_path / "missing") == {"L2": 2 * MIB}


def test_where_it_fits_picks_the_smallest_cache():
    assert where_it_fits(16 * 1024, CACHES) == "L1d"
    assert where_it_fits(MIB, CACHES) == "L2"
    assert where_it_fits(5 * MIB, CACHES) == "L3"
    assert where_it_fits(33 * MIB, CACHES) == "memory"
    assert where_it_fits(1, {}) == "memory"


def table():
    rows = [  # d, batch, none MiB, ratio, floor, verdict
        (128, 1, 6.0, 1.50, 0.10, "faster"), (512, 1, 96.0, 1.20, 0.05, "faster"),
        (768, 1, 217.0, 1.02, 0.05, "within noise"), (128, 32, 6.0, 1.01, 0.03, "within noise"),
        (512, 32, 96.0, 0.90, 0.05, "slower"), (768, 32, 217.0, 1.00, 0.02, "within noise"),
    ]  # fmt: skip
    df = pd.DataFrame(rows, columns=["d_model", "batch", "none_MiB", "ratio", "floor", "verdict"])
    return df.assign(all_MiB=df["none_MiB"] / 8)


def test_summary_and_text_follow_the_numbers():
    s = summarise(table(), CACHES)
    assert s["by_batch"][1]["faster"] == [128, 512] and s["by_batch"][1]["best_ratio"] == 1.5
    assert s["by_batch"][32]["slower"] == [512]
    assert s["fits"][512] == ("memory", "L3") and s["fits"][128] == ("L3", "L2")
    text = conclusion_text(s)
    assert "1.50× at d = 128" in text and "unshared weights in memory, shared in L3" in text
    assert "No measurable difference at d = 768" in text and "Slower at d = 512" in text
    assert conclusion_holds(s, table())


def test_conclusion_holds_catches_a_claim_the_numbers_contradict():
    s = summarise(table(), CACHES)
    s["by_batch"][1]["faster"].append(768)  # 1.02 is inside its floor of 0.05
    with pytest.raises(AssertionError):
        conclusion_holds(s, table())
    s = summarise(table(), CACHES)
    s["by_batch"][32]["within noise"].remove(128)  # a width left out of the conclusion
    with pytest.raises(AssertionError):
        conclusion_holds(s, table())


def test_cache_story_lists_what_the_cache_sizes_do_not_explain():
    rows = table()
    rows.loc[rows["d_model"] == 768, "all_MiB"] = 20.0  # one block in L3, eight blocks in none
    s = summarise(rows.assign(none_MiB=rows["none_MiB"].where(rows["d_model"] != 128, 0.5)), CACHES)
    story = cache_story(s)
    assert story[1]["same_level_faster"] == [(128, "L2")]  # faster, both models in L2
    assert story[1]["split_no_gain"] == [(768, "memory", "L3")]
    assert sorted(story[32]["split_no_gain"]) == [(512, "memory", "L3"), (768, "memory", "L3")]
    text = cache_story_text(s)
    assert "d = 128 (both in L2)" in text and "d = 768 (N blocks in no cache, one in L3)" in text
    assert "did not report its cache sizes" in cache_story_text(summarise(rows, {}))


def test_experiment_runs_at_toy_sizes_and_plots():
    df = cache_experiment(widths=(16, 32), n_layers=2, batches=(1, 4), repeats=4, warmup=0,
                          min_call_s=0.0)  # fmt: skip
    assert len(df) == 4 and set(df["verdict"]) <= {"faster", "slower", "within noise"}
    assert (df["none_MiB"] > df["all_MiB"]).all()
    assert df.groupby("d_model")["MFLOPs_per_token"].nunique().eq(1).all()
    assert conclusion_holds(summarise(df, CACHES), df)
    ax = plot_cache_experiment(df, CACHES)
    assert len(ax.get_lines()) >= 3  # two batches and the line at 1
    plt.close("all")
    with pytest.raises(ValueError, match="batches"):
        cache_experiment(batches=())


def test_cache_benchmark_runs_and_writes_what_notebook_08_reads(tmp_path):
    import importlib.util
    import sys
    from pathlib import Path

    from course_lib.measure.speed_report import load_benchmark

    folder = Path(__file__).resolve().parents[2] / "benchmarks"
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location("bench_cache", folder / "cache_speed.py")
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(folder))
    args = ["--widths", "16", "--batches", "1", "2", "--n-layers", "2", "--repeats", "4",
            "--warmup", "0", "--min-call-ms", "0", "--device", "cpu",
            "--out", str(tmp_path / "cache.json")]  # fmt: skip
    bench.main(args)
    payload = load_benchmark("cache", tmp_path)
    assert len(pd.DataFrame(payload["results"])) == 2 and "caches_bytes" in payload
