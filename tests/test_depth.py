"""course_lib.depth: notebook 09's experiments, and the five-seed results shipped for them."""

import json
from pathlib import Path

import pandas as pd
import torch

from course_lib import count_parameters
from course_lib.depth import (
    LOOPED_SEEDS_CSV,
    TEST_LENGTHS,
    TEXT_SEEDS_CSV,
    looped_pair,
    per_digit_accuracy,
    text_runs,
)
from course_lib.measure import formula_parameter_count

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"


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
