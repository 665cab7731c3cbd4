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
  half a file. Run keys are read as strings, and a cut last line is not a finished run.
- Writers hold a lock (``fcntl.flock`` on the folder), so concurrent sweeps on one CSV
  never duplicate a row; each sweep starts by removing temp files that kills left and by
  rebuilding a provenance JSON that a kill left one record behind.
- The output path is checked writable before any training.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from course_lib.experiments.presets import Run, with_seeds
from course_lib.experiments.provenance import device_label, provenance
from course_lib.experiments.run import (
    RESULT_COLUMNS,
    check_run,
    record_stub,
    resolve_dataset,
    run_experiment,
    run_key,
    run_name,
)
from course_lib.files import atomic_write, check_output_path, folder_lock, temp_files
from course_lib.training.train import TrainingDiverged

SCHEMA = "course_lib.experiments.sweep/2"
FAILURE_COLUMNS = ("key", "name", "dataset", "seed", "error", "model_config", "train_config")
METRICS = ("accuracy", "val_accuracy", "val_loss", "final_train_loss")


def provenance_path(csv_path: str | os.PathLike) -> Path:
    return Path(csv_path).with_suffix(".json")


def failures_path(csv_path: str | os.PathLike) -> Path:
    path = Path(csv_path)
    return path.with_name(path.stem + ".failures.csv")


# ---------------------------------------------------------------- reading and writing rows


def _read_rows(path: Path, columns: tuple[str, ...]) -> tuple[list[list[str]], bytes] | None:
    """The complete data rows of a CSV with header ``columns``, and its bytes up to the
    last complete line; None when there is no file. Anything else is a ValueError."""
    if not path.exists():
        return None
    raw = path.read_bytes()
    body = raw[: raw.rfind(b"\n") + 1]  # a cut last line is no row
    try:
        rows = list(csv.reader(io.StringIO(body.decode("utf-8")), strict=True))
        if b"\x00" in raw:
            raise csv.Error("it holds NUL bytes")
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"results file {path} cannot be read as CSV ({err})") from None
    if not rows or "key" not in rows[0]:
        raise ValueError(f"results file {path} has no 'key' column: it is not a sweep CSV")
    if tuple(rows[0]) != columns:
        extra = sorted(set(rows[0]) ^ set(columns))[:4] or "their order"
        raise ValueError(
            f"results file {path} has other columns than this sweep writes (differing: "
            f"{extra}): refusing to append to it; choose a new output file"
        )
    for line, row in enumerate(rows[1:], 2):
        if len(row) != len(columns):
            raise ValueError(
                f"results file {path} line {line} has {len(row)} fields, its header "
                f"{len(columns)}: the file is damaged; choose a new output file"
            )
    return rows[1:], body


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split("\n"))  # one line per row, always


def _line(record: dict[str, Any], columns: tuple[str, ...]) -> bytes:
    unknown = sorted(set(record) - set(columns))
    if unknown:
        raise ValueError(f"record fields {unknown} are not allowed: the columns are {columns}")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_cell(record.get(c)) for c in columns])
    return buf.getvalue().encode("utf-8")


def _header(columns: tuple[str, ...]) -> bytes:
    return (",".join(columns) + "\n").encode("utf-8")


def _append(path: Path, record: dict[str, Any], columns: tuple[str, ...]) -> None:
    """Old bytes verbatim + one line, written atomically (a cut last line is dropped)."""
    line = _line(record, columns)
    old = _read_rows(path, columns)
    atomic_write(path, (old[1] if old else _header(columns)) + line)


def append_record(csv_path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Add one row to the results CSV ``csv_path`` (created with ``RESULT_COLUMNS``)."""
    path = Path(csv_path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    _append(path, record, RESULT_COLUMNS)


def read_results(csv_path: str | os.PathLike) -> pd.DataFrame:
    """A results or failures CSV as a DataFrame, run keys as strings, cut lines left out."""
    path = Path(csv_path).expanduser()
    if not path.exists():
        return pd.DataFrame()
    raw = path.read_bytes()
    body = raw[: raw.rfind(b"\n") + 1].decode("utf-8", errors="replace")
    return pd.read_csv(io.StringIO(body), dtype={"key": str}) if body else pd.DataFrame()


# ---------------------------------------------------------------- the output and its owner


def check_results_path(csv_path: str | os.PathLike) -> Path:
    """``csv_path`` as a Path, or a ValueError naming the problem before any training: it
    must end in .csv, be no folder, its folder writable (a file is written and removed
    there), and, if it exists, be a sweep CSV with this version's columns. ``~`` is
    expanded."""
    path = Path(csv_path).expanduser()
    if path.suffix != ".csv":
        raise ValueError(f"csv_path={str(path)!r} is not allowed: it must end in .csv")
    folder = next(p for p in path.absolute().parents if p.exists())  # nearest existing one
    if not folder.is_dir():
        raise ValueError(f"csv_path={str(path)!r} is not allowed: {folder} is a file, not a folder")
    # 64 KiB written and synced: a full disk shows here, not after an hour of training
    check_output_path(path, "csv_path", probe_bytes=65536)
    _read_rows(path, RESULT_COLUMNS)
    _read_rows(failures_path(path), FAILURE_COLUMNS)
    return path


def _check_owner(path: Path, preset: str | None) -> dict[str, Any] | None:
    """The provenance beside ``path`` when a sweep of this preset, schema and device wrote
    it (None when neither file exists); otherwise a ValueError that changes nothing."""
    jpath = provenance_path(path)
    if not jpath.exists():
        if path.exists():
            raise ValueError(
                f"results file {path} has no provenance {jpath.name} beside it: no sweep wrote "
                "it, so this sweep will not append to it; choose a new output file"
            )
        return None
    try:
        info = json.loads(jpath.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        info = None
    if not isinstance(info, dict) or "preset" not in info or "mfu_assumption" not in info:
        raise ValueError(f"{jpath} is not a sweep's provenance: refusing to overwrite it")
    here = {"schema": SCHEMA, "preset": preset, "device": device_label()}
    there = {**info, "schema": info.get("schema", SCHEMA)}  # the first sweeps wrote none
    for field, value in here.items():
        if there.get(field) != value:
            raise ValueError(
                f"results file {path} was written by a sweep with {field}={there.get(field)!r}, "
                f"this one has {field}={value!r}: refusing to append; choose a new output file"
            )
    return info


class RecordLost(OSError):
    """A run finished but its record could not be written (a full disk): the sweep stops,
    every record written before it kept, and says which run was lost and why."""

    def __init__(self, err: OSError, label: str, target: Path, n_kept: int):
        why = "the disk is full" if err.errno == errno.ENOSPC else err.strerror
        super().__init__(
            err.errno,
            f"{label}: trained, but its record could not be written to {target} ({why}); "
            f"this run is lost, the {n_kept} runs recorded before it are kept; free some space "
            "and rerun the same sweep to redo it",
        )

    def __str__(self) -> str:
        return self.strerror


def _write_provenance(path: Path, preset: str | None, command: str | None) -> None:
    info = provenance(read_results(path), preset, command, len(read_results(failures_path(path))))
    info["schema"] = SCHEMA
    atomic_write(provenance_path(path), json.dumps(info, indent=2, default=str) + "\n")


def _start(path: Path, preset: str | None, command: str | None) -> None:
    """Under the lock: refuse others' files, remove kills' leftovers, repair a cut last
    line, create the files (provenance first) and bring the provenance up to date."""
    info = _check_owner(path, preset)
    for p in (path, provenance_path(path), failures_path(path)):
        for tmp in temp_files(p):
            tmp.unlink()
    for p, columns in ((path, RESULT_COLUMNS), (failures_path(path), FAILURE_COLUMNS)):
        table = _read_rows(p, columns)
        if table is not None and len(table[1]) < p.stat().st_size:
            print(f"{p.name}: its last line was cut (an interrupted write); it will be re-run")
            atomic_write(p, table[1])
    counts = (len(read_results(path)), len(read_results(failures_path(path))))
    if info is None or counts != (info.get("n_records"), info.get("n_failed", 0)):
        _write_provenance(path, preset, command)
    if not path.exists():
        atomic_write(path, _header(RESULT_COLUMNS))


def _finished(path: Path) -> set[str]:
    """Keys of the runs recorded as results or as failures."""
    keys: set[str] = set()
    for p, columns in ((path, RESULT_COLUMNS), (failures_path(path), FAILURE_COLUMNS)):
        table = _read_rows(p, columns)
        if table is not None:
            keys.update(row[0] for row in table[0] if row[0])
    return keys


def _source(dataset: str) -> str:
    """Shipped data, or your own data by name (``my.csv@hash``: ``my.csv``, any version)."""
    return dataset.split("@", 1)[0] if "@" in dataset else "the shipped datasets"


def _check_datasets(path: Path, datasets: list[str]) -> None:
    """Your own data's runs get a results CSV of their own: never shared with the shipped
    datasets' runs or another file's, so that no analysis of the CSV can pool them."""
    table = _read_rows(path, RESULT_COLUMNS)
    column = RESULT_COLUMNS.index("dataset")
    there = {row[column] for row in table[0]} if table else set()
    sources = sorted({_source(d) for d in there | set(datasets) if d})
    if len(sources) > 1:
        raise ValueError(
            f"results file {path} would hold runs on {sources}: your own data gets a results "
            "CSV of its own (an analysis must never pool two datasets); choose a new output file"
        )


def _failure(record: dict[str, Any], error: str) -> dict[str, Any]:
    return {c: record.get(c) for c in FAILURE_COLUMNS[:-3]} | {
        "error": error,
        "model_config": record.get("model_config"),
        "train_config": record.get("train_config"),
    }


def _non_finite(record: dict[str, Any]) -> str | None:
    bad = [m for m in METRICS if isinstance(record.get(m), float) and not math.isfinite(record[m])]
    return f"non-finite {', '.join(bad)} (training diverged)" if bad else None


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
                f"runs[{i}]={type(run).__name__} is not allowed: each run is a "
                "(model_cfg, train_cfg, dataset) tuple"
            )
    resolved: dict[int, Any] = {}  # each dataset object read and hashed once
    runs = [(m, t, resolved.setdefault(id(d), resolve_dataset(d))) for m, t, d in runs]
    runs = with_seeds(runs, seeds)
    path = check_results_path(csv_path)
    for model_cfg, train_cfg, dataset in runs:
        check_run(model_cfg, train_cfg, dataset)  # fail before any training
    _check_datasets(path, [str(d) for _, _, d in runs])
    folder = path.absolute().parent
    with folder_lock(folder):
        _start(path, preset, command)
    for i, (model_cfg, train_cfg, dataset) in enumerate(runs, 1):
        key = run_key(model_cfg, train_cfg, dataset)
        label = f"[{i}/{len(runs)}] {run_name(model_cfg)} on {dataset} (seed {train_cfg.seed})"
        with folder_lock(folder):
            done = key in _finished(path)
        if done:
            print(f"{label}: already in {path.name}, skipped") if progress else None
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
            if key not in _finished(path):  # a concurrent sweep may have recorded it
                try:
                    if error:
                        _append(target, _failure(record, error), FAILURE_COLUMNS)
                    else:
                        _append(target, record, RESULT_COLUMNS)
                except OSError as err:  # a full disk: every earlier record is kept
                    raise RecordLost(err, label, target, len(_finished(path))) from None
                try:
                    _write_provenance(path, preset, command)
                except OSError as err:  # the record is in; the next sweep repairs the JSON
                    print(f"{label}: recorded, but {provenance_path(path).name} not updated "
                          f"({err.strerror}); the next sweep brings it up to date")  # fmt: skip
        if progress and error:
            print(f"{label}: FAILED ({error}); recorded in {target.name}")
        elif progress:
            metric = record.get("accuracy", record.get("val_loss"))
            print(f"{label}: {metric:.4f} in {time.perf_counter() - t0:.1f} s")
    return read_results(path)
