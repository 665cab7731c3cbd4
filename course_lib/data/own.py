"""Your own data: a CSV, a DataFrame or a plain text, ready for ``run_experiment`` (06).

``own_data("reviews.csv", text_column="review", label_column="stars")`` (or a pandas
DataFrame) gives an ``OwnData`` for classification: any number of classes, labels given
as names or as integers. ``own_data("notes.txt")`` or ``own_text(text)`` gives one for a
character-level language model. ``run_experiment``, ``run_sweep``, the command line
(``--data``) and the training panel accept it, or the path or DataFrame itself when its
columns are called ``text`` and ``label``.

Splits: a ``split`` column (train / val / test) is used when the data has one; otherwise
80/10/10 within each class, drawn with ``split_seed`` (reproducible, and independent of
the training seed), a repeated text always in its first row's split (``own_splits``). A text is cut 90/10 into train and validation, as Shakespeare is.
The tokenizer is fitted on the training split only (``course_lib.data.shipped``). The data's
content hash is part of its name, so a changed file gets new run keys in a sweep.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import numbers
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch.utils.data import TensorDataset

from course_lib.data.shipped import (
    SHAKESPEARE_VAL_FRACTION,
    SPLITS,
    CharTokenizer,
    WordTokenizer,
    lm_windows,
)
from course_lib.data.splits import check_overlap, report_repeats, stratified_splits
from course_lib.i18n import _

# what pandas reads as a missing value: as a label these are no class (case as written)
MISSING_MARKERS = ("#N/A", "#N/A N/A", "#NA", "-NaN", "-nan", "<NA>", "N/A", "NA", "NULL")
MISSING_MARKERS += ("NaN", "None", "n/a", "nan", "null")
ALLOWED = (
    "'rotten_tomatoes', 'shakespeare', a .csv path (text and label columns), a .txt path "
    "(a character LM), a pandas DataFrame, or course_lib.data.own.own_data(...)"
)


@dataclass(frozen=True, eq=False)
class OwnData:
    """A learner's dataset: ``task`` "classify" (``texts``, ``labels`` as ids into
    ``classes``, ``splits`` per row) or "lm" (``text``); ``name`` holds its content hash."""

    name: str
    task: str
    classes: tuple[str, ...] = ()
    texts: tuple[str, ...] = field(default=(), repr=False)
    labels: tuple[int, ...] = field(default=(), repr=False)
    splits: tuple[str, ...] = field(default=(), repr=False)
    text: str = field(default="", repr=False)

    def __str__(self) -> str:
        return self.name

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def char_vocab_size(self) -> int:
        """The vocab_size a character LM on this text needs (train characters + 2)."""
        return CharTokenizer.fit(self.lm_splits()[0]).vocab_size

    def lm_splits(self) -> tuple[str, str]:
        cut = int(len(self.text) * (1 - SHAKESPEARE_VAL_FRACTION))
        return self.text[:cut], self.text[cut:]

    def split_sizes(self) -> dict[str, int]:
        return {s: self.splits.count(s) for s in SPLITS}


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:12]


def own_text(text: str, name: str = "text") -> OwnData:
    """A plain text for a character LM (at least a few hundred characters)."""
    if not isinstance(text, str):
        raise ValueError(
            _("text={kind} is not allowed: give a str").format(kind=type(text).__name__)
        )
    if not text.strip():
        raise ValueError(
            _("text of {name} is empty: a character LM needs some text").format(name=repr(name))
        )
    return OwnData(name=f"{name}@{_digest('lm', text)}", task="lm", text=text)


def _read_csv(path: Path) -> pd.DataFrame:
    if path.is_dir():
        raise ValueError(_("data file {path} is a folder, not a CSV file").format(path=path))
    try:
        with open(path, encoding="utf-8", newline="") as f:
            header = next(csv.reader(f), [])
        _check_unique_columns(header, _("data file {path}").format(path=path))
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ValueError(_("data file {path} is missing").format(path=path)) from None
    except PermissionError:
        raise ValueError(
            _("data file {path} cannot be read (no permission)").format(path=path)
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, csv.Error) as err:
        raise ValueError(
            _("data file {path} cannot be read as CSV ({err})").format(path=path, err=err)
        ) from None


def _check_unique_columns(columns: list[Any], source: str) -> None:
    """Two columns of one name: pandas would rename the second (``text.1``) and the first
    would be used without a word."""
    twice = sorted({str(c) for c, n in Counter(columns).items() if n > 1})
    if twice:
        raise ValueError(
            _(
                "{source} has the column(s) {twice} more than once (columns {columns}): "
                "rename or remove the extra one, so that it is clear which to use"
            ).format(source=source, twice=twice, columns=[str(c) for c in columns])
        )


def _column(df: pd.DataFrame, column: Any, field_name: str, source: str) -> list[Any]:
    if column not in df.columns:
        raise ValueError(
            _("{field}={column} is not allowed: {source} has the columns {columns}").format(
                field=field_name,
                column=repr(column),
                source=source,
                columns=[str(c) for c in df.columns],
            )
        )
    values = df[column].tolist()
    missing = [i for i, v in enumerate(values) if v is None or v != v or str(v).strip() == ""]
    if len(missing) == len(values):
        raise ValueError(
            _("{field}={column}: the column of {source} is empty").format(
                field=field_name, column=repr(column), source=source
            )
        )
    if missing:
        raise ValueError(
            _(
                "{field}={column}: {n} empty or missing values in {source} "
                "(rows {rows}): fill or remove those rows"
            ).format(
                field=field_name,
                column=repr(column),
                n=len(missing),
                source=source,
                rows=missing[:5],
            )
        )
    return values


def _texts(values: list[Any], column: Any, source: str) -> tuple[str, ...]:
    bad = next((i for i, v in enumerate(values) if not isinstance(v, str)), None)
    if bad is not None:
        raise ValueError(
            _(
                "text_column={column} holds non-text values in {source} (row {bad}: "
                "{value}, a {kind}): pick the column of texts"
            ).format(
                column=repr(column),
                source=source,
                bad=bad,
                value=repr(values[bad]),
                kind=type(values[bad]).__name__,
            )
        )
    if all(_is_number(v) for v in values):
        raise ValueError(
            _(
                "text_column={column} holds only numbers in {source} (e.g. {value}): "
                "pick the column of texts"
            ).format(column=repr(column), source=source, value=repr(values[0]))
        )
    return tuple(values)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _labels(values: list[Any], column: Any, source: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Ids and class names; integer labels (7 or "7") keep their numeric order. Names are
    stripped of surrounding whitespace ("pos " is "pos"); "NA", "NULL" and the other
    markers of a missing value are refused, with their rows."""
    values = [v.strip() if isinstance(v, str) else v for v in values]
    marked = [i for i, v in enumerate(values) if isinstance(v, str) and v in MISSING_MARKERS]
    if marked:
        found = sorted({values[i] for i in marked})
        raise ValueError(
            _(
                "label_column={column} holds {found} in {source} ({n} rows, e.g. rows "
                "{rows}): these mark a missing label, not a class; fill or remove those rows"
            ).format(
                column=repr(column), found=found, source=source, n=len(marked), rows=marked[:5]
            )
        )
    as_int = []
    for v in values:
        if isinstance(v, bool) or not (isinstance(v, numbers.Number) or _is_number(v)):
            as_int = None
            break
        number = float(v)
        if not math.isfinite(number) or number != int(number):
            raise ValueError(
                _(
                    "label_column={column} holds {value} in {source}: labels must be names or "
                    "integers"
                ).format(column=repr(column), value=repr(v), source=source)
            )
        as_int.append(int(number))
    if as_int is None:
        bad = next((v for v in values if not isinstance(v, str | bool | numbers.Number)), None)
        if bad is not None:
            raise ValueError(
                _(
                    "label_column={column} holds {value} ({kind}) in {source}: "
                    "labels must be names or integers"
                ).format(
                    column=repr(column), value=repr(bad), kind=type(bad).__name__, source=source
                )
            )
        names = [str(v) for v in values]
        classes = sorted(set(names))
        by_case: dict[str, list[str]] = {}
        for c in classes:
            by_case.setdefault(c.casefold(), []).append(c)
        clash = [group for group in by_case.values() if len(group) > 1]
        if clash:
            warnings.warn(
                _(
                    "label_column={column} in {source} has labels that differ only in case, "
                    "{clash}: they are separate classes; unify them if they are one"
                ).format(column=repr(column), source=source, clash=clash[:3]),
                stacklevel=3,
            )
    else:
        names = [str(v) for v in as_int]
        classes = [str(v) for v in sorted(set(as_int))]
    if len(classes) < 2:
        raise ValueError(
            _(
                "label_column={column} has a single class ({name}) in {source}: "
                "classification needs at least 2"
            ).format(column=repr(column), name=repr(classes[0]), source=source)
        )
    index = {c: i for i, c in enumerate(classes)}
    return tuple(index[n] for n in names), tuple(classes)


def own_data(
    data: Any,
    text_column: Any = "text",
    label_column: Any = "label",
    split_column: Any = "split",
    split_seed: int = 0,
) -> OwnData:
    """The learner's data as an ``OwnData``: a .csv path or a DataFrame (classification),
    a .txt path (character LM), or an ``OwnData`` (returned as it is)."""
    if isinstance(data, OwnData):
        return data
    if isinstance(data, str | os.PathLike) and Path(data).suffix in (".txt", ".csv"):
        data = Path(data).expanduser()
    if isinstance(data, str | os.PathLike) and Path(data).suffix == ".txt":
        path = Path(data)
        try:
            return own_text(path.read_text(encoding="utf-8"), path.name)
        except (FileNotFoundError, IsADirectoryError):
            raise ValueError(_("data file {path} is missing").format(path=path)) from None
        except UnicodeDecodeError:
            raise ValueError(_("data file {path} is not UTF-8 text").format(path=path)) from None
    if isinstance(data, str | os.PathLike) and Path(data).suffix == ".csv":
        name, source = Path(data).name, _("data file {path}").format(path=data)
        df = _read_csv(Path(data))
    elif isinstance(data, pd.DataFrame):
        name, source, df = "dataframe", _("the DataFrame"), data
        _check_unique_columns(list(df.columns), source)
    else:
        raise ValueError(
            _("dataset={dataset} is not allowed: give {allowed}").format(
                dataset=_short(data), allowed=ALLOWED
            )
        )
    if len(df) == 0:
        raise ValueError(_("{source} has no rows").format(source=source))
    texts = _texts(_column(df, text_column, "text_column", source), text_column, source)
    labels, classes = _labels(
        _column(df, label_column, "label_column", source), label_column, source
    )
    if split_column in df.columns:
        splits = tuple(str(s).strip() for s in df[split_column])
        bad = sorted(set(splits) - set(SPLITS))
        if bad or len(set(splits)) < len(SPLITS):
            raise ValueError(
                _(
                    "split_column={column} in {source} holds {found}: "
                    "every row needs one of {splits}, and each split a row"
                ).format(
                    column=repr(split_column),
                    source=source,
                    found=bad or sorted(set(splits)),
                    splits=SPLITS,
                )
            )
        check_overlap(texts, splits, source)
    else:
        report_repeats(texts, labels, source)
        splits = stratified_splits(labels, split_seed, source, texts)
    digest = _digest("classify", texts, [classes[y] for y in labels], splits)
    return OwnData(f"{name}@{digest}", "classify", classes, texts, labels, splits)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{type(value).__name__} ({text[:30]}…)"


def own_tensors(data: OwnData, vocab_size: int, max_len: int):
    """(train, val, test) TensorDatasets (test None for a text), tokenizer fitted on train
    (``course_lib.data.dataset.Dataset.tensors`` caches them per run)."""
    if data.task == "lm":
        train_text, val_text = data.lm_splits()
        if len(val_text) < max_len + 1:
            raise ValueError(
                _(
                    "max_len={max_len} is not allowed with dataset {data}: its validation split "
                    "(the last 10%) has {n} characters; use a longer text or a "
                    "smaller max_len"
                ).format(max_len=max_len, data=data, n=len(val_text))
            )
        tok = CharTokenizer.fit(train_text)  # the training split only
        ids = [torch.tensor(tok.encode(t), dtype=torch.long) for t in (train_text, val_text)]
        return lm_windows(ids[0], max_len, max_len), lm_windows(ids[1], max_len, max_len), None
    rows = {s: [i for i, x in enumerate(data.splits) if x == s] for s in SPLITS}
    tok = WordTokenizer.fit((data.texts[i] for i in rows["train"]), vocab_size)
    out = []
    for s in SPLITS:
        ids = torch.tensor([tok.encode(data.texts[i], max_len) for i in rows[s]], dtype=torch.long)
        out.append(TensorDataset(ids, torch.tensor([data.labels[i] for i in rows[s]])))
    return tuple(out)


def adapt_runs(runs: list, data: OwnData) -> list:
    """A preset's runs moved to ``data``: those of its task, with n_classes (classify) or
    vocab_size (LM) set to fit it."""
    out = []
    for model_cfg, train_cfg, _dataset in (r for r in runs if r[0].task == data.task):
        if data.task == "classify":
            model_cfg = model_cfg.replace(n_classes=data.n_classes)
        else:
            model_cfg = model_cfg.replace(vocab_size=data.char_vocab_size)
        out.append((model_cfg, train_cfg, data))
    return out
