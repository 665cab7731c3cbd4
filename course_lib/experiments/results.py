"""A sweep's results file: read once per locked step, appended one line at a time (06, 08).

A sweep (``course_lib.experiments.sweep``) keeps its records in a CSV with the columns
``RESULT_COLUMNS`` (``course_lib.experiments.run``), its diverged runs in
``<name>.failures.csv`` and its provenance in ``<name>.json``. This module reads and writes
those CSVs:

- ``Snapshot.read(path)`` reads the CSV and its failures file once; a locked step of the
  sweep works from that snapshot (which runs are done, the provenance's table) and
  ``Snapshot.append`` writes one record and returns the snapshot after it, without
  reading the file again.
- An append copies the old bytes verbatim and adds one line (``atomic_write``: a temp
  file renamed over the CSV), so old rows are never re-serialised and a kill never leaves
  half a file. Run keys are read as strings, and a cut last line is not a finished run.
- ``check_results_path`` refuses, before any training, an output that is no .csv, sits
  under a file, cannot be written, or is a CSV of other columns.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from course_lib.experiments.run import RESULT_COLUMNS
from course_lib.files import atomic_write, check_output_path
from course_lib.i18n import _

FAILURE_COLUMNS = ("key", "name", "dataset", "seed", "error", "model_config", "train_config")


def provenance_path(csv_path: str | os.PathLike) -> Path:
    return Path(csv_path).with_suffix(".json")


def failures_path(csv_path: str | os.PathLike) -> Path:
    path = Path(csv_path)
    return path.with_name(path.stem + ".failures.csv")


class Table(NamedTuple):
    """A CSV as read: its complete data rows, its bytes up to the last complete line, and
    the file's size (larger than ``len(body)`` when a kill cut its last line)."""

    rows: list[list[str]]
    body: bytes
    size: int


def read_table(path: Path, columns: tuple[str, ...]) -> Table | None:
    """The CSV with header ``columns`` as a ``Table``; None when there is no file. Anything
    else is a ValueError."""
    if not path.exists():
        return None
    raw = path.read_bytes()
    body = raw[: raw.rfind(b"\n") + 1]  # a cut last line is no row
    try:
        rows = list(csv.reader(io.StringIO(body.decode("utf-8")), strict=True))
        if b"\x00" in raw:
            raise csv.Error(_("it holds NUL bytes"))
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(
            _("results file {path} cannot be read as CSV ({err})").format(path=path, err=err)
        ) from None
    if not rows or "key" not in rows[0]:
        raise ValueError(
            _("results file {path} has no 'key' column: it is not a sweep CSV").format(path=path)
        )
    if tuple(rows[0]) != columns:
        extra = sorted(set(rows[0]) ^ set(columns))[:4] or "their order"
        raise ValueError(
            _(
                "results file {path} has other columns than this sweep writes (differing: "
                "{extra}): refusing to append to it; choose a new output file"
            ).format(path=path, extra=extra)
        )
    for line, row in enumerate(rows[1:], 2):
        if len(row) != len(columns):
            raise ValueError(
                _(
                    "results file {path} line {line} has {n} fields, its header "
                    "{want}: the file is damaged; choose a new output file"
                ).format(path=path, line=line, n=len(row), want=len(columns))
            )
    return Table(rows[1:], body, len(raw))


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split("\n"))  # one line per row, always


def _cells(record: dict[str, Any], columns: tuple[str, ...]) -> list[str]:
    unknown = sorted(set(record) - set(columns))
    if unknown:
        raise ValueError(
            _("record fields {unknown} are not allowed: the columns are {columns}").format(
                unknown=unknown, columns=columns
            )
        )
    return [_cell(record.get(c)) for c in columns]


def _line(cells: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue().encode("utf-8")


def header(columns: tuple[str, ...]) -> bytes:
    return (",".join(columns) + "\n").encode("utf-8")


def _append(
    path: Path, record: dict[str, Any], columns: tuple[str, ...], old: Table | None
) -> Table:
    """``old``'s bytes verbatim + one line, written atomically (a cut last line is dropped);
    the file as it is now, without reading it again."""
    cells = _cells(record, columns)
    body = (old.body if old else header(columns)) + _line(cells)
    atomic_write(path, body)
    return Table([*(old.rows if old else []), cells], body, len(body))


def append_record(csv_path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Add one row to the results CSV ``csv_path`` (created with ``RESULT_COLUMNS``)."""
    path = Path(csv_path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    _append(path, record, RESULT_COLUMNS, read_table(path, RESULT_COLUMNS))


def _frame(body: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(body), dtype={"key": str}) if body else pd.DataFrame()


def read_results(csv_path: str | os.PathLike) -> pd.DataFrame:
    """A results or failures CSV as a DataFrame, run keys as strings, cut lines left out."""
    path = Path(csv_path).expanduser()
    if not path.exists():
        return pd.DataFrame()
    raw = path.read_bytes()
    return _frame(raw[: raw.rfind(b"\n") + 1].decode("utf-8", errors="replace"))


@dataclass(frozen=True)
class Snapshot:
    """A sweep's results CSV and failures file as one read under the lock saw them: each
    locked step reads them once and works from this (keys, tables, the provenance)."""

    path: Path
    results: Table | None
    failures: Table | None

    @classmethod
    def read(cls, path: Path) -> Snapshot:
        results = read_table(path, RESULT_COLUMNS)
        return cls(path, results, read_table(failures_path(path), FAILURE_COLUMNS))

    def keys(self) -> set[str]:
        """Keys of the runs recorded as results or as failures."""
        tables = (t for t in (self.results, self.failures) if t is not None)
        return {row[0] for t in tables for row in t.rows if row[0]}

    def counts(self) -> tuple[int, int]:
        return tuple(len(t.rows) if t else 0 for t in (self.results, self.failures))

    def frame(self) -> pd.DataFrame:
        """The results as ``read_results`` gives them."""
        return _frame(self.results.body.decode("utf-8") if self.results else "")

    def append(self, record: dict[str, Any], failed: bool) -> Snapshot:
        """``record`` written to the failures file (``failed``) or the results CSV; the
        snapshot after it."""
        if failed:
            table = _append(failures_path(self.path), record, FAILURE_COLUMNS, self.failures)
            return Snapshot(self.path, self.results, table)
        table = _append(self.path, record, RESULT_COLUMNS, self.results)
        return Snapshot(self.path, table, self.failures)


def check_results_path(csv_path: str | os.PathLike) -> Path:
    """``csv_path`` as a Path, or a ValueError naming the problem before any training: it
    must end in .csv, be no folder, its folder writable (a file is written and removed
    there), and, if it exists, be a sweep CSV with this version's columns. ``~`` is
    expanded."""
    path = Path(csv_path).expanduser()
    if path.suffix != ".csv":
        raise ValueError(
            _("csv_path={path} is not allowed: it must end in .csv").format(path=repr(str(path)))
        )
    folder = next(p for p in path.absolute().parents if p.exists())  # nearest existing one
    if not folder.is_dir():
        raise ValueError(
            _("csv_path={path} is not allowed: {folder} is a file, not a folder").format(
                path=repr(str(path)), folder=folder
            )
        )
    # 64 KiB written and synced: a full disk shows here, not after an hour of training
    check_output_path(path, "csv_path", probe_bytes=65536)
    read_table(path, RESULT_COLUMNS)
    read_table(failures_path(path), FAILURE_COLUMNS)
    return path
