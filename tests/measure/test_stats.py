"""Confidence intervals and the wording of comparisons (course_lib.measure.stats)."""

import math

import pandas as pd
import pytest

from course_lib.measure.stats import (
    NO_DIFFERENCE,
    Interval,
    compare_to_baseline,
    diff_ci,
    difference_sentences,
    format_interval,
    mean_ci,
    rate_diff_ci,
    t_cdf,
    t_quantile,
    verdict,
    wilson_ci,
)

# Two-sided 95% critical values of Student's t (any printed table)
T_TABLE = {1: 12.706, 2: 4.303, 4: 2.776, 9: 2.262, 29: 2.045, 1000: 1.962}


@pytest.mark.parametrize(("df", "q"), T_TABLE.items())
def test_t_quantile_matches_the_printed_table(df, q):
    assert t_quantile(0.95, df) == pytest.approx(q, abs=1e-3)


def test_t_quantile_other_levels_and_scipy():
    assert t_quantile(0.99, 4) == pytest.approx(4.604, abs=1e-3)
    assert t_quantile(0.90, 10) == pytest.approx(1.812, abs=1e-3)
    stats = pytest.importorskip("scipy.stats")
    for df in (1.5, 3, 7.3, 20, 60):
        assert t_quantile(0.95, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-8)
        assert t_cdf(-1.3, df) == pytest.approx(stats.t.cdf(-1.3, df), rel=1e-8)


def test_t_bad_inputs_name_the_field():
    with pytest.raises(ValueError, match="level=1.2"):
        t_quantile(1.2, 4)
    with pytest.raises(ValueError, match="df=0"):
        t_cdf(1.0, 0)


def test_mean_ci_by_hand():
    xs = [0.70, 0.72, 0.74, 0.71, 0.73]  # mean 0.72, sd 0.0158
    ci = mean_ci(xs)
    half = 2.776 * math.sqrt(0.00025) / math.sqrt(5)
    assert ci.mean == pytest.approx(0.72)
    assert (ci.low, ci.high) == pytest.approx((0.72 - half, 0.72 + half), abs=1e-5)
    assert ci.n == 5 and ci.method == "t"
    one = mean_ci([0.7])
    assert one.mean == 0.7 and math.isinf(one.low) and math.isinf(one.high)


def test_mean_ci_rejects_empty_and_nan():
    with pytest.raises(ValueError, match="no values"):
        mean_ci([])
    with pytest.raises(ValueError, match="NaN"):
        mean_ci([0.5, float("nan")])


def test_diff_ci_pairs_matching_seeds():
    base = [0.70, 0.75, 0.72, 0.68, 0.74]
    plan = [b + 0.01 for b in base]  # the same seed noise, +1 point each
    d = diff_ci(plan, base, seeds=[0, 1, 2, 3, 4], baseline_seeds=[0, 1, 2, 3, 4])
    assert d.method == "paired"
    assert d.mean == pytest.approx(0.01) and d.half_width == pytest.approx(0.0, abs=1e-12)
    assert verdict(d) == "better"
    welch = diff_ci(plan, base)  # unpaired, the seed noise stays in the interval
    assert welch.method == "welch" and welch.low < 0 < welch.high
    assert verdict(welch) == NO_DIFFERENCE


def test_diff_ci_pairing_follows_the_seed_not_the_order():
    base, seeds = [0.70, 0.80, 0.60], [5, 6, 7]
    plan = [0.61, 0.71, 0.81]  # seeds 7, 5, 6: each +1 point on its own seed
    d = diff_ci(plan, base, seeds=[7, 5, 6], baseline_seeds=seeds)
    assert d.method == "paired" and d.mean == pytest.approx(0.01)
    assert d.half_width < 1e-9


def test_diff_ci_falls_back_to_welch_when_seeds_differ():
    d = diff_ci([0.8, 0.82, 0.81], [0.7, 0.72], seeds=[0, 1, 2], baseline_seeds=[0, 1])
    assert d.method == "welch" and d.n == 2
    # Welch by hand: var 1e-4/3 and 2e-4/2, df = (se2^2) / (...)
    v1, v2 = 1e-4 / 3, 2e-4 / 2
    df = (v1 + v2) ** 2 / (v1**2 / 2 + v2**2 / 1)
    half = t_quantile(0.95, df) * math.sqrt(v1 + v2)
    assert (d.low, d.high) == pytest.approx((0.10 - half, 0.10 + half))
    with pytest.raises(ValueError, match="one seed per value"):
        diff_ci([0.8, 0.82], [0.7, 0.72], seeds=[0], baseline_seeds=[0, 1])


def test_verdict_wording():
    assert verdict(Interval(0.5, 0.1, 0.9, 5)) == "better"
    assert verdict(Interval(-0.5, -0.9, -0.1, 5)) == "worse"
    assert verdict(Interval(0.5, -0.1, 1.1, 5)) == NO_DIFFERENCE
    assert verdict(Interval(-0.5, -0.9, -0.1, 5), larger_is_better=False) == "better"  # a loss
    assert verdict(Interval(0.5, -math.inf, math.inf, 1)) == NO_DIFFERENCE


def test_format_interval():
    assert format_interval(Interval(0.71, 0.2, 1.14, 5)) == "0.7 [0.2, 1.1]"
    assert format_interval(Interval(0.71, -0.2, 1.6, 5), signed=True) == "+0.7 [-0.2, +1.6]"
    assert "one seed" in format_interval(mean_ci([3.0]))


def runs():
    rows = []
    for seed, noise in enumerate([0.0, 0.02, -0.01, 0.01, -0.02]):
        rows += [
            {"name": "none", "seed": seed, "accuracy": 0.75 + noise},
            {"name": "all", "seed": seed, "accuracy": 0.76 + noise},  # +1 point, paired
            {"name": "ffn", "seed": seed, "accuracy": 0.75 - noise * 0.5},  # noise only
        ]
    return pd.DataFrame(rows)


def test_compare_to_baseline_table_and_sentences():
    table = compare_to_baseline(runs(), "accuracy", baseline="none", scale=100)
    assert list(table.index) == ["none", "all", "ffn"]
    assert table.loc["none", "verdict"] == "baseline"
    assert table.loc["all", "verdict"] == "better" and table.loc["all", "method"] == "paired"
    assert table.loc["all", "diff"] == pytest.approx(1.0)
    assert table.loc["ffn", "verdict"] == NO_DIFFERENCE
    assert table.loc["all", "mean"] == pytest.approx(76.0) and table.loc["all", "n"] == 5
    lines = difference_sentences(table)
    assert lines[0] == "`all`: +1.0 [+1.0, +1.0] points vs `none`, better"
    assert lines[1].endswith(NO_DIFFERENCE)


def test_compare_to_baseline_names_bad_input():
    with pytest.raises(ValueError, match="'loss' is missing"):
        compare_to_baseline(runs(), "loss", baseline="none")
    with pytest.raises(ValueError, match="baseline='nope'"):
        compare_to_baseline(runs(), "accuracy", baseline="nope")
    with pytest.raises(ValueError, match="compare_to_baseline"):
        difference_sentences(pd.DataFrame({"verdict": ["better"]}))


def test_wilson_matches_published_values_and_stays_in_0_1():
    ci = wilson_ci(81, 263)  # Newcombe (1998), Table I: 0.2553 to 0.3662
    assert (ci.low, ci.high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert ci.mean == pytest.approx(81 / 263) and ci.method == "wilson"
    assert wilson_ci(0, 10).high == pytest.approx(0.2775, abs=1e-4) and wilson_ci(0, 10).low == 0
    assert wilson_ci(10, 10).high == 1.0 and wilson_ci(10, 10).low == pytest.approx(0.7225, 1e-3)
    for n in (1, 2, 5, 10, 37):
        for k in range(n + 1):
            r = wilson_ci(k, n)
            assert 0.0 <= r.low <= k / n <= r.high <= 1.0, (k, n, r)
            assert r.high - r.low > 0  # 0 of n is not certainty
    assert wilson_ci(3, 5, level=0.99).low < wilson_ci(3, 5).low  # wider at a higher level


def test_t_interval_of_a_rate_leaves_0_1_but_wilson_does_not():
    flags = [1.0, 1.0, 1.0, 0.0, 0.0]  # 3 of 5 seeds diverged
    assert mean_ci([1.0, 0.0, 0.0, 0.0, 0.0]).low < 0.0  # what the t interval did
    assert 0.0 < wilson_ci(int(sum(flags)), len(flags)).low


def test_rate_difference_is_newcombe_and_stays_in_minus1_1():
    d = rate_diff_ci(56, 70, 48, 80)  # Newcombe (1998), Table II, method 10: 0.0524 to 0.3339
    assert (d.low, d.high) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert d.mean == pytest.approx(0.2) and d.method == "newcombe"
    assert verdict(d) == "better"
    for k1 in range(6):
        for k2 in range(6):
            r = rate_diff_ci(k1, 5, k2, 5)
            assert -1.0 <= r.low <= (k1 - k2) / 5 <= r.high <= 1.0
            assert (r.low > 0) == (r.high > 0 and verdict(r) == "better")
    assert verdict(rate_diff_ci(2, 5, 0, 5)) == NO_DIFFERENCE  # one seed fewer
    assert verdict(rate_diff_ci(0, 5, 0, 5)) == NO_DIFFERENCE


@pytest.mark.parametrize(
    ("args", "field"),
    [((6, 5), "0 <= k <= n"), ((-1, 5), "0 <= k <= n"), ((0, 0), "n >= 1"), ((1.5, 5), "whole")],
)
def test_rate_bad_counts_name_the_rule(args, field):
    with pytest.raises(ValueError, match=field):
        wilson_ci(*args)
    with pytest.raises(ValueError, match="level=1"):
        wilson_ci(1, 5, level=1.0)
