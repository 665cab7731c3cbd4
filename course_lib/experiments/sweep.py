"""Resumable sweeps into a results CSV that nothing else can clobber (notebooks 06, 08).

``run_sweep(runs, "results.csv")`` trains every run not yet in the CSV and appends its
record the moment it ends, so an interrupted sweep resumes where it stopped. Beside the
CSV live ``results.json`` (the provenance, ``course_lib.experiments.provenance``) and, when a run's
training diverges, ``results.failures.csv``: a failed run is recorded there, never as a
result.

The rules that keep a learner's numbers honest:

- A sweep appends only to a CSV that a sweep of the same preset, schema (columns) and
  device wrote, as its provenance JSON says; anything else is refused, byte-identical.
- An append copies the old bytes verbatim and adds one line (``atomic_write``: a temp
  file renamed over the CSV), so old rows are never re-serialised and a kill never leaves
  half a file. Run keys are read as strings, and a cut last line is not a finished run
  (the results file: ``course_lib.experiments.results``).
- Writers hold a lock (``fcntl.flock`` on the folder), so concurrent sweeps on one CSV
  never duplicate a row; each sweep starts by removing temp files that kills left and by
  rebuilding a provenance JSON that a kill left one record behind. Each locked step reads
  the CSV and its failures file once (a ``Snapshot``) and works from what it read.
- The output path is checked writable before any training.
"""

from __future__ import annotations

import errno
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from course_lib.data.dataset import Dataset, source_of
from course_lib.experiments.presets import Run, with_seeds
from course_lib.experiments.provenance import device_label, sweep_provenance
from course_lib.experiments.results import (
    FAILURE_COLUMNS,
    Snapshot,
    check_results_path,
    failures_path,
    header,
    provenance_path,
    read_results,
)
from course_lib.experiments.run import (
    RESULT_COLUMNS,
    check_run,
    record_stub,
    run_experiment,
    run_key,
    run_name,
)
from course_lib.files import atomic_write, folder_lock, temp_files
from course_lib.i18n import _
from course_lib.training.step import TrainingDiverged

SCHEMA = "course_lib.experiments.sweep/2"
METRICS = ("accuracy", "val_accuracy", "val_loss", "final_train_loss")


def _check_owner(path: Path, preset: str | None) -> dict[str, Any] | None:
    """The provenance beside ``path`` when a sweep of this preset, schema and device wrote
    it (None when neither file exists); otherwise a ValueError that changes nothing."""
    jpath = provenance_path(path)
    if not jpath.exists():
        if path.exists():
            raise ValueError(
                _(
                    "results file {path} has no provenance {name} beside it: no sweep wrote "
                    "it, so this sweep will not append to it; choose a new output file"
                ).format(path=path, name=jpath.name)
            )
        return None
    try:
        info = json.loads(jpath.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        info = None
    if not isinstance(info, dict) or "preset" not in info or "mfu_assumption" not in info:
        raise ValueError(
            _("{path} is not a sweep's provenance: refusing to overwrite it").format(path=jpath)
        )
    here = {"schema": SCHEMA, "preset": preset, "device": device_label()}
    there = {**info, "schema": info.get("schema", SCHEMA)}  # the first sweeps wrote none
    for field, value in here.items():
        if there.get(field) != value:
            raise ValueError(
                _(
                    "results file {path} was written by a sweep with {field}={there}, "
                    "this one has {field}={here}: refusing to append; choose a new output file"
                ).format(path=path, field=field, there=repr(there.get(field)), here=repr(value))
            )
    return info


class RecordLost(OSError):
    """A run finished but its record could not be written (a full disk): the sweep stops,
    every record written before it kept, and says which run was lost and why."""

    def __init__(self, err: OSError, label: str, target: Path, n_kept: int):
        why = _("the disk is full") if err.errno == errno.ENOSPC else err.strerror
        super().__init__(
            err.errno,
            _("{label}: trained, but its record could not be written to {target} ({why}); "
              "this run is lost, the {n_kept} runs recorded before it are kept; free some space "
              "and rerun the same sweep to redo it").format(label=label, target=target, why=why,
                                                            n_kept=n_kept),
        )  # fmt: skip

    def __str__(self) -> str:
        return self.strerror


def _write_provenance(snap: Snapshot, preset: str | None, command: str | None) -> None:
    info = sweep_provenance(snap.frame(), preset, command, snap.counts()[1])
    info["schema"] = SCHEMA
    atomic_write(provenance_path(snap.path), json.dumps(info, indent=2, default=str) + "\n")


def _start(path: Path, preset: str | None, command: str | None, datasets: list[str]) -> None:
    """Under the lock: refuse others' files and a mix of datasets, remove kills' leftovers,
    repair a cut last line, create the files (provenance first) and bring the provenance
    up to date; the CSVs are read once."""
    snap = Snapshot.read(path)
    _check_datasets(snap, datasets)
    info = _check_owner(path, preset)
    for p in (path, provenance_path(path), failures_path(path)):
        for tmp in temp_files(p):
            tmp.unlink()
    for p, table in ((path, snap.results), (failures_path(path), snap.failures)):
        if table is not None and len(table.body) < table.size:
            print(
                _("{name}: its last line was cut (an interrupted write); it will be re-run").format(
                    name=p.name
                )
            )
            atomic_write(p, table.body)
    if info is None or snap.counts() != (info.get("n_records"), info.get("n_failed", 0)):
        _write_provenance(snap, preset, command)
    if snap.results is None:
        atomic_write(path, header(RESULT_COLUMNS))


def _check_datasets(snap: Snapshot, datasets: list[str]) -> None:
    """Your own data's runs get a results CSV of their own: never shared with the shipped
    datasets' runs or another file's, so that no analysis of the CSV can pool them."""
    column = RESULT_COLUMNS.index("dataset")
    there = {row[column] for row in snap.results.rows} if snap.results else set()
    sources = sorted({source_of(d) for d in there | set(datasets) if d})
    if len(sources) > 1:
        raise ValueError(
            _(
                "results file {path} would hold runs on {sources}: your own data gets a "
                "results CSV of its own (an analysis must never pool two datasets); choose a new "
                "output file"
            ).format(path=snap.path, sources=sources)
        )


def _failure(record: dict[str, Any], error: str) -> dict[str, Any]:
    return {c: record.get(c) for c in FAILURE_COLUMNS[:-3]} | {
        "error": error,
        "model_config": record.get("model_config"),
        "train_config": record.get("train_config"),
    }


def _non_finite(record: dict[str, Any]) -> str | None:
    bad = [m for m in METRICS if isinstance(record.get(m), float) and not math.isfinite(record[m])]
    if not bad:
        return None
    return _("non-finite {metrics} (training diverged)").format(metrics=", ".join(bad))


def run_sweep(
    runs: list[Run],
    csv_path: str | os.PathLike,
    progress: bool = True,
    preset: str | None = None,
    run_fn=None,
    seeds: list[int] | None = None,
    command: str | None = None,
) -> pd.DataFrame:
    """Run every (model_cfg, train_cfg, dataset) not yet in ``csv_path``; return the table.

    Each record is appended as soon as its run ends and the provenance JSON beside the
    CSV is rewritten. Rerunning the same list after an interruption skips the finished
    configurations (matched by ``run_key``). ``seeds`` runs every configuration once per
    seed (column ``seed``); ``command`` is recorded in the provenance. A run whose
    training diverges goes to ``<name>.failures.csv`` with its error.
    """
    run_fn = run_fn or run_experiment
    for i, run in enumerate(runs):
        if not isinstance(run, tuple | list) or len(run) != 3:
            raise ValueError(
                _(
                    "runs[{i}]={kind} is not allowed: each run is a "
                    "(model_cfg, train_cfg, dataset) tuple"
                ).format(i=i, kind=type(run).__name__)
            )
    resolved: dict[int, Dataset] = {}  # each dataset object resolved (read, hashed) once
    for _model, _train, d in runs:
        if id(d) not in resolved:
            resolved[id(d)] = Dataset.resolve(d)
    runs = with_seeds([(m, t, resolved[id(d)]) for m, t, d in runs], seeds)
    path = check_results_path(csv_path)
    for model_cfg, train_cfg, dataset in runs:
        check_run(model_cfg, train_cfg, dataset)  # fail before any training
    folder = path.absolute().parent
    with folder_lock(folder):
        _start(path, preset, command, [d.name for _model, _train, d in runs])
    for i, (model_cfg, train_cfg, dataset) in enumerate(runs, 1):
        key = run_key(model_cfg, train_cfg, dataset)
        label = _("[{i}/{n}] {name} on {dataset} (seed {seed})").format(
            i=i, n=len(runs), name=run_name(model_cfg), dataset=dataset, seed=train_cfg.seed
        )
        with folder_lock(folder):
            done = key in Snapshot.read(path).keys()
        if done:
            print(
                _("{label}: already in {file}, skipped").format(label=label, file=path.name)
            ) if progress else None
            continue
        t0 = time.perf_counter()
        try:
            record = run_fn(model_cfg, train_cfg, dataset, progress=progress)
            error = _non_finite(record)
        except TrainingDiverged as err:
            record, error = record_stub(model_cfg, train_cfg, dataset), str(err)
        record["key"] = key
        target = failures_path(path) if error else path
        with folder_lock(folder):
            snap = Snapshot.read(path)
            if key not in snap.keys():  # a concurrent sweep may have recorded it
                try:
                    snap = snap.append(_failure(record, error) if error else record, bool(error))
                except OSError as err:  # a full disk: every earlier record is kept
                    raise RecordLost(err, label, target, len(snap.keys())) from None
                try:
                    _write_provenance(snap, preset, command)
                except OSError as err:  # the record is in; the next sweep repairs the JSON
                    print(_("{label}: recorded, but {file} not updated ({why}); the next sweep "
                            "brings it up to date").format(label=label, file=provenance_path(path).name,
                                                           why=err.strerror))  # fmt: skip
        if progress and error:
            print(_("{label}: FAILED ({error}); recorded in {file}").format(
                label=label, error=error, file=target.name))  # fmt: skip
        elif progress:
            metric = record.get("accuracy", record.get("val_loss"))
            print(_("{label}: {metric:.4f} in {seconds:.1f} s").format(
                label=label, metric=metric, seconds=time.perf_counter() - t0))  # fmt: skip
    return read_results(path)
