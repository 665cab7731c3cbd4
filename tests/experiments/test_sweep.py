"""Resumable sweeps (course_lib.experiments.sweep): kills at ten moments, concurrent sweeps, seeds,
verbatim appends and the failures file. A deterministic stand-in for ``run_experiment``
makes an interrupted sweep comparable byte for byte with an uninterrupted one."""

import json
import os
import signal
import time
from pathlib import Path

import pytest

from course_lib import ModelConfig, TrainConfig
from course_lib.experiments import results as results_mod
from course_lib.experiments import sweep as sweep_mod
from course_lib.experiments.presets import with_seeds
from course_lib.experiments.results import failures_path, read_results
from course_lib.experiments.run import record_stub, run_key
from course_lib.experiments.sweep import run_sweep
from course_lib.files import atomic_write
from course_lib.training.step import TrainingDiverged

RT = ModelConfig(vocab_size=500, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=16)
QUICK = TrainConfig(steps=10, batch_size=32, warmup_steps=2, device="cpu")
RUNS = with_seeds(
    [(RT.replace(sharing=s), QUICK, "rotten_tomatoes") for s in ("none", "all")], [0, 1, 2]
)
DIVERGES = run_key(RT.replace(sharing="all"), QUICK.replace(seed=1), "rotten_tomatoes")


def pure_run(model_cfg, train_cfg, dataset, progress=True):
    """A record computed from the configs alone (no training), so two sweeps agree."""
    rec = record_stub(model_cfg, train_cfg, dataset)
    if rec["key"] == DIVERGES:
        raise TrainingDiverged(3, 1e3, "the loss is nan")
    return rec | {"accuracy": 0.5 + train_cfg.seed / 100, "sharing": model_cfg.sharing}


def files(folder):
    return sorted(p.name for p in folder.iterdir())


def snapshot(csv):
    info = json.loads(csv.with_suffix(".json").read_text())
    return csv.read_bytes(), failures_path(csv).read_bytes(), info


@pytest.fixture(autouse=True)
def fixed_commit(monkeypatch):
    """Others commit while the tests run: the provenance's commit must not move."""
    monkeypatch.setenv("COURSE_GIT_COMMIT", "0" * 40)


@pytest.fixture
def reference(tmp_path_factory, fixed_commit):
    csv = tmp_path_factory.mktemp("ref") / "r.csv"
    run_sweep(RUNS, csv, progress=False, preset="t", run_fn=pure_run)
    return snapshot(csv)


def in_child(fn):
    """Run ``fn`` in a forked child; return how it ended (the signal, or 0)."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            fn()
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def kill_at(n, phase):
    """Make the n-th atomic_write of this process die by SIGKILL before it writes
    ("before"), with its temp file half written ("temp"), or once it is done ("after")."""
    calls = []

    def write(path, data, mode=0o644):
        calls.append(path)
        if len(calls) - 1 == n and phase == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        if len(calls) - 1 == n and phase == "temp":
            data = data.encode() if isinstance(data, str) else data
            (path.parent / f"{path.name}.k1ll3d00.tmp").write_bytes(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        atomic_write(path, data, mode)
        if len(calls) - 1 == n:
            os.kill(os.getpid(), signal.SIGKILL)

    sweep_mod.atomic_write = results_mod.atomic_write = write  # the sweep's and its appends'


def kill_in_run(n):
    seen = []

    def run(*args, **kw):
        seen.append(1)
        if len(seen) == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return pure_run(*args, **kw)

    return run


# atomic_write calls of a fresh sweep: 0 provenance, 1 header, then per run its row
# (results or failures) and the provenance: 2/3 run 1, 4/5 run 2, ... (run 4 diverges)
MOMENTS = {
    "before_anything": (0, "before"),
    "mid_first_provenance": (0, "temp"),
    "provenance_written_no_csv": (1, "before"),
    "header_written": (1, "after"),
    "mid_first_row": (2, "temp"),
    "between_csv_and_json_run1": (2, "after"),
    "between_csv_and_json_run2": (4, "after"),
    "mid_provenance_run2": (5, "temp"),
    "between_failures_and_json": (8, "after"),
    "between_csv_and_json_last_run": (12, "after"),  # only the rebuild at start mends it
    "in_training_run4": None,
}


@pytest.mark.parametrize("moment", MOMENTS, ids=list(MOMENTS))
def test_killed_sweep_resumes_to_the_uninterrupted_result(moment, tmp_path, reference):
    csv = tmp_path / "r.csv"

    def killed():
        if MOMENTS[moment] is None:
            run_sweep(RUNS, csv, progress=False, preset="t", run_fn=kill_in_run(4))
        else:
            kill_at(*MOMENTS[moment])
            run_sweep(RUNS, csv, progress=False, preset="t", run_fn=pure_run)

    assert in_child(killed) == signal.SIGKILL
    run_sweep(RUNS, csv, progress=False, preset="t", run_fn=pure_run)  # resume
    assert snapshot(csv) == reference  # rows, failures and provenance as if never killed
    assert files(tmp_path) == ["r.csv", "r.failures.csv", "r.json"]  # no temp file left


def test_resume_after_several_kills_in_a_row(tmp_path, reference):
    csv = tmp_path / "r.csv"
    for n, phase in ((2, "after"), (3, "temp"), (0, "after"), (6, "after")):

        def kill(n=n, phase=phase):
            kill_at(n, phase)
            run_sweep(RUNS, csv, False, "t", pure_run)

        assert in_child(kill) == signal.SIGKILL
    run_sweep(RUNS, csv, progress=False, preset="t", run_fn=pure_run)
    assert snapshot(csv) == reference


def test_concurrent_sweeps_write_each_run_once(tmp_path):
    csv = tmp_path / "r.csv"

    def slow(*args, **kw):
        time.sleep(0.05)
        return pure_run(*args, **kw)

    pids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            try:
                run_sweep(RUNS, csv, progress=False, preset="t", run_fn=slow)
            finally:
                os._exit(0)
        pids.append(pid)
    assert all(os.waitpid(p, 0)[1] == 0 for p in pids)
    keys = list(read_results(csv)["key"]) + list(read_results(failures_path(csv))["key"])
    assert sorted(keys) == sorted({run_key(*r) for r in RUNS})  # each run exactly once
    assert json.loads(csv.with_suffix(".json").read_text())["n_records"] == len(RUNS) - 1


def test_seeds_run_each_configuration_once_per_seed(tmp_path):
    csv = tmp_path / "s.csv"
    df = run_sweep(RUNS[:2], csv, progress=False, run_fn=pure_run, seeds=[0, 5, 7])
    assert sorted(df["seed"]) == [0, 0, 5, 5, 7, 7] and df["key"].is_unique
    assert json.loads(csv.with_suffix(".json").read_text())["seeds"] == [0, 5, 7]
    more = run_sweep(RUNS[:2], csv, progress=False, run_fn=pure_run, seeds=[0, 9])
    assert sorted(more["seed"]) == [0, 0, 5, 5, 7, 7, 9, 9]  # seed 0 was not re-run


def test_appends_keep_the_old_bytes(tmp_path):
    csv = tmp_path / "a.csv"
    run_sweep(RUNS[:1], csv, progress=False, run_fn=pure_run)
    before = csv.read_bytes()
    run_sweep(RUNS[:3], csv, progress=False, run_fn=pure_run)
    after = csv.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == before.count(b"\n") + 2


def test_a_diverged_run_is_a_failure_not_a_result(tmp_path):
    csv = tmp_path / "d.csv"
    df = run_sweep(RUNS, csv, progress=False, run_fn=pure_run)
    assert DIVERGES not in set(df["key"]) and len(df) == len(RUNS) - 1
    failed = read_results(failures_path(csv))
    assert list(failed["key"]) == [DIVERGES]
    assert "training diverged at step 3 (lr=1e+03)" in failed["error"][0]
    calls = []
    run_sweep(RUNS, csv, progress=False, run_fn=lambda *a, **k: calls.append(a))
    assert calls == []  # the failure is recorded: a resume does not retry it


def test_each_locked_step_reads_the_csv_once(tmp_path, monkeypatch):
    """Per run: one read to see whether it is done, one to record it (the append and the
    provenance work from that read); per sweep one to check the path and one to start (once
    the CSV exists) and the table returned at the end."""
    csv, reads = tmp_path / "o.csv", []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: reads.append(p) or real(p))
    df = run_sweep(RUNS, csv, progress=False, run_fn=pure_run)
    assert len(df) == len(RUNS) - 1  # one run diverged: recorded as a failure
    assert reads.count(csv) == 2 * len(RUNS) + 1  # no CSV yet to check or start from
    reads.clear()
    run_sweep(RUNS, csv, progress=False, run_fn=pure_run)  # all done: one read per run
    assert reads.count(csv) == 2 + len(RUNS) + 1
