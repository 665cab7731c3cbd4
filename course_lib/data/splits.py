"""Splits of your own data (``course_lib.data.own``, notebook 06): 80/10/10 within each
class, seeded, with every repeated text kept in one split.

A text that repeats another row's (as the tokenizer reads it: "Great film" and
"great film " are one) goes to that row's split, so a test text is never trained on;
``report_repeats`` warns with the count. A split column given by the learner that puts
one text in train and in val/test is refused by ``check_overlap`` with the count.
"""

from __future__ import annotations

import warnings

import numpy as np

from course_lib.data.shipped import SPLITS, tokenize_words
from course_lib.i18n import _

SPLIT_FRACTIONS = {"val": 0.1, "test": 0.1}  # the rest is train


def same_text(text: str) -> str:
    """What the model sees of a text: its words (so "Great film" and "great film " are one)."""
    return " ".join(tokenize_words(text))


def first_rows(texts: tuple[str, ...]) -> list[int]:
    """For each row, the first row holding the same text (as the tokenizer reads it)."""
    first: dict[str, int] = {}
    return [first.setdefault(same_text(t), i) for i, t in enumerate(texts)]


def report_repeats(texts: tuple[str, ...], labels: tuple[int, ...], source: str) -> None:
    first = first_rows(texts)
    repeats = sum(f != i for i, f in enumerate(first))
    if repeats:
        seen: dict[int, set[int]] = {}
        for i, f in enumerate(first):
            seen.setdefault(f, set()).add(labels[i])
        clash = sum(len(ys) > 1 for ys in seen.values())
        if clash:
            message = _(
                "{source}: {repeats} rows repeat the text of an earlier row ({distinct} distinct "
                "texts, {clash} of them under different labels); identical "
                "texts are kept in one split, so no val/test text is also trained on"
            )
        else:
            message = _(
                "{source}: {repeats} rows repeat the text of an earlier row ({distinct} distinct "
                "texts); identical texts are kept in one split, so no val/test text is also "
                "trained on"
            )
        warnings.warn(
            message.format(source=source, repeats=repeats, distinct=len(seen), clash=clash),
            stacklevel=3,
        )


def check_overlap(texts: tuple[str, ...], splits: tuple[str, ...], source: str) -> None:
    """A given split column must not put one text in train and in val/test."""
    train = {same_text(t) for t, s in zip(texts, splits, strict=True) if s == "train"}
    shared = [
        i
        for i, (t, s) in enumerate(zip(texts, splits, strict=True))
        if s != "train" and same_text(t) in train
    ]
    if shared:
        raise ValueError(
            _(
                "{source}: {n} val/test rows repeat a text of the train split (e.g. rows "
                "{rows}): they would score memorised texts; remove the repeats "
                "(df.drop_duplicates('text')), or leave out the split column so that own_data "
                "keeps identical texts in one split"
            ).format(source=source, n=len(shared), rows=shared[:5])
        )


def stratified_splits(
    labels: tuple[int, ...], seed: int, source: str, texts: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """80/10/10 within each class, reproducible from ``seed``; a row whose text repeats an
    earlier row's goes to that row's split."""
    rng = np.random.RandomState(seed)
    out = ["train"] * len(labels)
    first = first_rows(texts) if texts else list(range(len(labels)))
    for c in sorted(set(labels)):
        rows = [i for i, y in enumerate(labels) if y == c and first[i] == i]
        rows = [rows[j] for j in rng.permutation(len(rows))]
        start = 0
        for split, fraction in SPLIT_FRACTIONS.items():
            n = int(round(fraction * len(rows))) if len(rows) >= 3 else 0
            for i in rows[start : start + n]:
                out[i] = split
            start += n
    out = [out[f] for f in first]
    empty = [s for s in SPLITS if s not in out]
    if empty:
        raise ValueError(
            _(
                "{source} has too few rows ({n}) for a {splits} split: "
                "{empty} would be empty; give at least 5 rows per class"
            ).format(source=source, n=len(labels), splits="/".join(SPLITS), empty=empty)
        )
    return tuple(out)
