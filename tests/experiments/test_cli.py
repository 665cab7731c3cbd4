"""``python -m course_lib sweep``: argument errors and a tiny resumable run."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from course_lib.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def test_bad_preset_from_the_shell_is_one_clear_line():
    out = subprocess.run(
        [sys.executable, "-m", "course_lib", "sweep", "--preset", "medium", "--out", "x.csv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "argument --preset: invalid choice: 'medium'" in out.stderr
    assert "'fast', 'full'" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sweep", "--preset", "fast", "--out", "r.txt"], "argument --out: 'r.txt' is not allowed"),
        (["sweep", "--preset", "fast", "--out", "r.csv", "--limit", "0"], "argument --limit: '0'"),
        (
            ["sweep", "--preset", "fast", "--out", "r.csv", "--limit", "two"],
            "argument --limit: 'two'",
        ),
        (["sweep", "--preset", "fast", "--out", "r.csv", "--threads", "-1"], "argument --threads"),
        (["sweep", "--out", "r.csv"], "the following arguments are required: --preset"),
        ([], "a command is required: choose 'sweep'"),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_not_a_sweep_csv_is_refused(tmp_path, capsys):
    bad = tmp_path / "other.csv"
    bad.write_text("x\n1\n")
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "--preset", "fast", "--out", str(bad), "--limit", "1", "--quiet"])
    assert exc.value.code == 2 and "other.csv has no 'key' column" in capsys.readouterr().err


def test_dry_run_lists_the_full_preset(capsys):
    assert main(["sweep", "--preset", "full", "--out", "unused.csv", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "cycle_rev N12 M6" in out and "28 runs" in out


def test_fast_sweep_with_limit_runs_once_then_resumes(tmp_path, capsys):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = tmp_path / "results" / "fast.csv"
        argv = ["sweep", "--preset", "fast", "--out", str(out), "--limit", "1", "--quiet"]
        assert main(argv) == 0
        assert main(argv) == 0  # the second call finds the record and trains nothing
    finally:
        torch.set_num_threads(before)
    df = pd.read_csv(out)
    assert len(df) == 1 and df.loc[0, "name"] == "none N4"
    assert df.loc[0, "accuracy"] > 0.6
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["preset"] == "fast" and info["largest"]["name"] == "none N4"
    assert "1 records in" in capsys.readouterr().out


def test_seeds_repeat_every_run_seed_major_in_a_dry_run(capsys):
    argv = ["sweep", "--preset", "fast", "--dataset", "rotten_tomatoes", "--seeds", "3,0-1"]
    assert main(argv + ["--out", "unused.csv", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "21 runs" in lines[-1]  # 7 plans x 3 seeds
    seeds = [line.split("seed=")[1] for line in lines[:-1]]
    assert seeds == ["0"] * 7 + ["1"] * 7 + ["3"] * 7 and "none N4" in lines[7]


def test_the_command_is_recorded_in_the_provenance(tmp_path, monkeypatch):
    from course_lib.experiments.run import record_stub

    monkeypatch.setattr(
        "course_lib.experiments.sweep.run_experiment",
        lambda m, t, d, progress=True: record_stub(m, t, d) | {"accuracy": 0.5},
    )
    out = tmp_path / "s.csv"
    argv = [
        "sweep",
        "--preset",
        "fast",
        "--seeds",
        "0-1",
        "--limit",
        "2",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["command"] == "python -m course_lib " + " ".join(argv)
    assert (
        info["seeds"] == [0, 1]
        and info["n_records"] == 4
        and info["schema"] == "course_lib.experiments.sweep/2"
    )
