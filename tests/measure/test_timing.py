"""course_lib.measure.timing: the pure parts of the timing method, with synthetic numbers (notebook 08).

No test asserts how fast anything runs: the functions that decide what a timing means are
fed made-up round times, and the timers are only checked to run and to interleave.
"""

import pytest
import torch

from course_lib import ModelConfig, build_model
from course_lib.data.synthetic import synthetic_batch
from course_lib.measure.cost import train_parts
from course_lib.measure.timing import (
    PHASES,
    TWIN,
    Timing,
    clock,
    compare_phases,
    compare_times,
    noise_floor,
    paired_ratio,
    ratio_table,
    round_ratios,
    timing_verdict,
)


def t(*times):
    return Timing(sorted(times)[len(times) // 2], min(times), len(times), tuple(times))


def test_round_ratios_pair_rounds_and_refuse_unpaired_timings():
    assert round_ratios(t(2.0, 9.0), t(1.0, 3.0)) == [2.0, 3.0]
    with pytest.raises(ValueError, match="same compare_times"):
        round_ratios(t(1.0, 2.0), t(1.0))


def test_noise_floor_of_identical_rounds_is_zero():
    same = t(1.0, 2.0, 5.0, 1.5, 3.0)
    assert noise_floor(same, same) == 0.0


def test_noise_floor_adds_median_bias_and_two_standard_errors():
    base = t(1.0, 1.0, 1.0, 1.0, 1.0)
    twin = t(1.0, 1 / 1.1, 1 / 1.2, 1 / 1.3, 1 / 1.4)  # per-round ratios 1.0 ... 1.4
    # quartiles 1.1, 1.2, 1.3: bias 0.2, spread 0.2 / 1.35, 2 x 1.25 x spread / sqrt(5)
    expected = 0.2 + 2 * 1.25 * (0.2 / 1.35) / 5**0.5
    assert noise_floor(base, twin) == pytest.approx(expected)
    noisy = t(1.0, 1 / 1.3, 1 / 0.7, 1.0, 1 / 1.3, 1 / 0.7, 1.0, 1.0)
    more_rounds = t(*(noisy.times_s * 4))
    flat = t(*([1.0] * 8)), t(*([1.0] * 32))
    assert noise_floor(flat[1], more_rounds) < noise_floor(flat[0], noisy)  # more rounds, less
    with pytest.raises(ValueError, match=">= 4 rounds"):
        noise_floor(t(1.0, 1.0, 1.0), t(1.0, 1.0, 1.0))


@pytest.mark.parametrize(
    "ratio, floor, expected",
    [(1.20, 0.10, "faster"), (1.05, 0.10, "within noise"), (0.85, 0.10, "slower"),
     (1.10, 0.10, "within noise"), (1.001, 0.0, "faster"), (1.0, 0.0, "within noise")],
)  # fmt: skip
def test_verdict_counts_a_difference_only_beyond_the_floor(ratio, floor, expected):
    assert timing_verdict(ratio, floor) == expected


def test_verdict_rejects_impossible_numbers():
    with pytest.raises(ValueError, match="ratio=0"):
        timing_verdict(0, 0.1)
    with pytest.raises(ValueError, match="floor=-0.1"):
        timing_verdict(1.0, -0.1)


def test_ratio_table_uses_the_twin_for_every_row():
    times = {
        "none": t(2.0, 2.0, 2.0, 2.0),
        TWIN: t(2.0, 2.0, 2.0, 2.2),  # ratios 1, 1, 1, 0.909: floor from this alone
        "all": t(1.0, 1.0, 1.0, 1.0),
        "cycle": t(2.0, 2.0, 2.1, 2.0),
    }
    rows = {r["plan"]: r for r in ratio_table(times)}
    floor = noise_floor(times["none"], times[TWIN])
    assert all(r["floor"] == floor for r in rows.values())
    assert rows["all"]["ratio"] == 2.0 and rows["all"]["verdict"] == "faster"
    assert rows["cycle"]["verdict"] == "within noise" and rows["none"]["ratio"] == 1.0
    with pytest.raises(ValueError, match="lack 'none twin'"):
        ratio_table({"none": times["none"], "all": times["all"]})


def test_clock_names_its_choices():
    assert clock("wall")() > 0 and clock("thread")() >= 0
    with pytest.raises(ValueError, match="clock='cpu' is not allowed"):
        clock("cpu")


def test_compare_times_interleaves_and_rotates():
    calls = []
    fns = {k: (lambda k=k: calls.append(k)) for k in "abc"}
    res = compare_times(fns, warmup=1, repeats=4, clock_kind="thread")
    assert calls[3:6] == ["a", "b", "c"] and calls[6:9] == ["b", "c", "a"]
    assert all(len(v.times_s) == 4 for v in res.values())
    assert paired_ratio(res["a"], res["b"]) > 0


def test_compare_phases_times_the_three_parts_of_real_training_steps():
    cfg = ModelConfig.preset("tiny", n_layers=2)
    steps = {}
    for sharing in ("none", "all"):
        torch.manual_seed(0)
        model = build_model(cfg.replace(sharing=sharing))
        ids, y = synthetic_batch(cfg, 2, 8)
        steps[sharing] = train_parts(model, ids, y, lr=1e-2)
    before = steps["all"][1]().item()
    res = compare_phases(steps, warmup=1, repeats=3)
    assert set(res) == {*PHASES, "train_step"}
    for name in steps:
        total = sum(res[p][name].times_s[0] for p in PHASES)
        assert res["train_step"][name].times_s[0] == pytest.approx(total)
    assert steps["all"][1]().item() < before  # four real AdamW steps were taken
    with pytest.raises(ValueError, match="repeats"):
        compare_phases(steps, repeats=0)
