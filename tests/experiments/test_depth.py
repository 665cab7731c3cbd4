"""course_lib.experiments.depth: notebook 09's experiments, and the five-seed results shipped for them."""

import json
from pathlib import Path

import pandas as pd
import torch

from course_lib import count_parameters
from course_lib.data.shipped import load_rotten_tomatoes
from course_lib.experiments.depth import (
    DIGIT_CHANCE,
    LOOPED_SEEDS_CSV,
    TEST_LENGTHS,
    TEXT_SEEDS_CSV,
    looped_pair,
    majority_accuracy,
    per_digit_accuracy,
    rate_interval,
    text_runs,
)
from course_lib.measure.stats import mean_ci
from course_lib.nn.counts import formula_parameter_count

RESULTS = Path(__file__).resolve().parents[2] / "data" / "results"


def test_text_runs_hold_equal_parameters_at_twice_the_depth():
    for mode in ("FAST", "FULL"):
        runs, train = text_runs(mode, seed=3)
        counts = {formula_parameter_count(cfg) for cfg in runs.values()}
        assert len(counts) == 1 and train.seed == 3
        assert [cfg.n_layers for cfg in runs.values()] == [3, 6, 6]


def test_looped_pair_is_seeded_and_equal_in_size():
    (a, b), (c, _) = looped_pair(1), looped_pair(1)
    assert abs(count_parameters(b) / count_parameters(a) - 1) < 0.005
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))
    acc = per_digit_accuracy(a, 4, n=8)
    assert acc.shape == (4,) and ((acc >= 0) & (acc <= 1)).all()


def test_shipped_seed_results_have_five_seeds_and_provenance():
    text = pd.read_csv(RESULTS / TEXT_SEEDS_CSV)
    assert (text.groupby("name")["seed"].nunique() >= 5).all() and len(text["name"].unique()) == 3
    loop = pd.read_csv(RESULTS / LOOPED_SEEDS_CSV)
    assert set(loop["model"]) == {"looped", "unshared"}
    assert (loop.groupby(["model", "length"])["seed"].nunique() >= 5).all()
    assert sorted(loop["length"].unique()) == list(TEST_LENGTHS)
    for name in (TEXT_SEEDS_CSV, LOOPED_SEEDS_CSV):
        info = json.loads((RESULTS / name).with_suffix(".json").read_text())
        assert {"torch", "git_commit", "command", "seeds"} <= set(info)


def test_majority_accuracy_is_the_test_share_of_the_most_frequent_training_label():
    splits = load_rotten_tomatoes()
    train = [label for _, label in splits["train"]]
    guess = int(sum(train) > len(train) / 2)
    test = [label for _, label in splits["test"]]
    assert majority_accuracy() == sum(label == guess for label in test) / len(test)
    assert 0.5 < majority_accuracy() < 0.6  # notebook 09's assert margins rest on this


def test_rate_interval_is_the_t_interval_over_seeds_clipped_to_0_1():
    near_one = rate_interval([1.0, 1.0, 0.98, 1.0, 0.95])
    assert near_one.high == 1.0 and mean_ci([1.0, 1.0, 0.98, 1.0, 0.95]).high > 1.0
    near_zero = rate_interval([0.0, 0.03, 0.0, 0.0, 0.0])
    assert near_zero.low == 0.0 and near_zero.mean == mean_ci([0.0, 0.03, 0.0, 0.0, 0.0]).mean
    middle = [0.29, 0.19, 0.23, 0.26, 0.21]
    assert rate_interval(middle) == mean_ci(middle)


def test_shipped_looped_seeds_beat_chance_per_digit_at_6_digits():
    """Notebook 09 section 4 says so (generated, and asserted there too)."""
    loop = pd.read_csv(RESULTS / LOOPED_SEEDS_CSV)
    for model in ("looped", "unshared"):
        rows = loop[(loop["model"] == model) & (loop["length"] == 6)]
        assert rate_interval(rows["digit_accuracy"]).low > DIGIT_CHANCE
        assert (
            loop[(loop["model"] == model) & (loop["length"] > 5)]["sequence_accuracy"] == 0
        ).all()


def test_notebook_09_claims_no_copy_of_a_shipped_run():
    nb = json.loads((RESULTS.parents[1] / "notebooks" / "09_depth_for_free.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    for claim in ("to the last digit", "is your run", "run you just made", "1e-9"):
        assert claim not in text, f"notebook 09 says {claim!r}: a live run is not a shipped one"
