"""One Dataset type: a run's data, resolved once and passed down (notebooks 06-09, sweeps).

A run names its data in one of four ways: a shipped name (``"rotten_tomatoes"``,
``"shakespeare"``), a .csv or .txt path, a pandas DataFrame, or an ``OwnData``
(``course_lib.data.own``). ``Dataset.resolve(x)`` turns each into a frozen ``Dataset``:

- ``name``: what a record's ``dataset`` column and its run key hold (``my.csv@<hash>`` for
  your own data, so a changed file gets new run keys);
- ``task`` and what a model must have to fit it: the classes of your own data, the
  vocabulary a character LM needs (the characters of its train split + 2);
- ``check(model_cfg)``: a one-line ValueError naming the field when the model does not fit;
- ``tensors(vocab_size, max_len)``: the (train, val, test) TensorDatasets (test None for an
  LM), cached per data file version, so a new ``COURSE_DATA_DIR`` or a changed file is read
  again, never served from the cache.

``run_experiment``, ``run_sweep`` and ``python -m course_lib sweep`` resolve once per run;
everything below them takes the ``Dataset``. The shipped data and its tokenizers:
``course_lib.data.shipped`` (Pang & Lee 2005 movie reviews; Shakespeare, Project Gutenberg).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from torch.utils.data import TensorDataset

from course_lib.data.own import ALLOWED, OwnData, own_data, own_tensors
from course_lib.data.shipped import (
    RT_FILE,
    SHAKESPEARE_FILE,
    char_lm_tensors,
    char_vocab_size,
    classification_tensors,
    data_dir,
    file_version,
)
from course_lib.i18n import _

Splits = tuple[TensorDataset, TensorDataset, TensorDataset | None]  # train, val, test
SHIPPED_SOURCE = "the shipped datasets"


@dataclass(frozen=True)
class Dataset:
    """A run's data: ``name``, ``task``, how to make its tensors, what a model must fit.

    Two Datasets are equal when their name (a content hash for your own data), task, files,
    classes and vocabulary are: that is the tensor cache's key."""

    name: str
    task: str  # "classify" or "lm"
    make: Callable[[int, int], Splits] = field(compare=False, repr=False)
    files: tuple[str, ...] = ()  # files under data_dir() whose versions key the tensor cache
    classes: tuple[str, ...] = ()  # classify: a model's n_classes must match (() : any fits)
    min_vocab: int = 0  # lm: the vocab_size a model needs (train characters + 2)
    own: OwnData | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def resolve(cls, dataset: DatasetLike) -> Dataset:
        """``dataset`` as a Dataset: a shipped name, a .csv/.txt path, a DataFrame, an
        ``OwnData`` or a Dataset (returned as it is); anything else is a ValueError."""
        if isinstance(dataset, Dataset):
            return dataset
        if isinstance(dataset, str) and dataset in SHIPPED:
            return SHIPPED[dataset]()
        if isinstance(dataset, str) and not dataset.endswith((".csv", ".txt")):
            raise ValueError(
                _("dataset={dataset} is not allowed: give {allowed}").format(
                    dataset=repr(dataset), allowed=ALLOWED
                )
            )
        return cls.of_own(own_data(dataset))

    @classmethod
    def of_own(cls, data: OwnData) -> Dataset:
        """Your own data (``course_lib.data.own.own_data``) as a Dataset."""
        lm = data.task == "lm"
        return cls(
            name=data.name,
            task=data.task,
            make=functools.partial(own_tensors, data),
            classes=() if lm else data.classes,
            min_vocab=data.char_vocab_size if lm else 0,
            own=data,
        )

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def mention(self) -> str:
        """How messages name it: ``dataset='shakespeare'`` as typed, ``dataset my.csv@hash``."""
        return f"dataset={self.name!r}" if self.own is None else f"dataset {self.name}"

    @property
    def source(self) -> str:
        return source_of(self.name)

    def check(self, model_cfg: Any) -> None:
        """A ValueError naming the field when ``model_cfg`` (a ModelConfig) does not fit."""
        if model_cfg.task != self.task:
            raise ValueError(
                _("task={task} is not allowed with {mention}: it needs task={want}").format(
                    task=repr(model_cfg.task), mention=self.mention, want=repr(self.task)
                )
            )
        if self.classes and model_cfg.n_classes != self.n_classes:
            raise ValueError(
                _(
                    "n_classes={got} is not allowed with {mention}: it has "
                    "{n} classes {classes}; pass n_classes={n}"
                ).format(
                    got=model_cfg.n_classes,
                    mention=self.mention,
                    n=self.n_classes,
                    classes=list(self.classes),
                )
            )
        if model_cfg.vocab_size < self.min_vocab:
            raise ValueError(
                _(
                    "vocab_size={got} is not allowed with {mention}: it must "
                    "be >= {min_vocab} (the characters of its train split + 2)"
                ).format(got=model_cfg.vocab_size, mention=self.mention, min_vocab=self.min_vocab)
            )

    def tensors(self, vocab_size: int, max_len: int) -> Splits:
        """(train, val, test) TensorDatasets, test None for an LM; cached per file version."""
        version = tuple(file_version(data_dir() / name) for name in self.files)
        return _made(self, vocab_size, max_len, version)


@functools.lru_cache(maxsize=4)
def _made(dataset: Dataset, vocab_size: int, max_len: int, version: tuple) -> Splits:
    return dataset.make(vocab_size, max_len)


def source_of(name: str) -> str:
    """Where a dataset name's runs come from: your own data by file (``my.csv@hash``:
    ``my.csv``, any version), else the shipped datasets. Names read back from a CSV too."""
    return name.split("@", 1)[0] if "@" in name else SHIPPED_SOURCE


def _rotten_tomatoes_splits(vocab_size: int, max_len: int) -> Splits:
    train, val, test, _ = classification_tensors(vocab_size, max_len)
    return train, val, test


def _shakespeare_splits(vocab_size: int, max_len: int) -> Splits:
    train, val, _ = char_lm_tensors(max_len)  # characters: the vocabulary is the data's
    return train, val, None


def rotten_tomatoes() -> Dataset:
    """Movie-review polarity (label 1 = fresh), accuracy on the test split."""
    return Dataset("rotten_tomatoes", "classify", _rotten_tomatoes_splits, files=(RT_FILE,))


def shakespeare() -> Dataset:
    """Eight plays for a character LM, loss on the last 10% of the text."""
    return Dataset(
        "shakespeare", "lm", _shakespeare_splits, (SHAKESPEARE_FILE,), min_vocab=char_vocab_size()
    )


DatasetLike = Dataset | OwnData | str | os.PathLike | pd.DataFrame  # what resolve takes
SHIPPED: dict[str, Callable[[], Dataset]] = {
    "rotten_tomatoes": rotten_tomatoes,
    "shakespeare": shakespeare,
}
