"""Bad inputs, round two (issue 18): each case that was silent, hung or gave a raw
traceback now gives a one-line message naming the file, column or field, or a correct
result. Own data, checkpoints, sweeps, training, the ALBERT loader, memory and DDP.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from course_lib.data import SPLITS as SPL
from course_lib.own_data import own_data, own_tensors


def texts_df(n=60, repeat=1, **extra):
    """n distinct texts in 2 classes, each row repeated ``repeat`` times."""
    rows = [
        {"text": f"doc {i} {'good' if i % 2 else 'bad'}", "label": "pos" if i % 2 else "neg"}
        for i in range(n)
        for _ in range(repeat)
    ]
    return pd.DataFrame(rows).assign(**extra)


# ------------------------------------------------------------------ your own data


def test_a_header_with_a_column_twice_is_refused(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("text,text,label\n" + "".join(f"a{i},b{i},{i % 2}\n" for i in range(20)))
    with pytest.raises(
        ValueError, match=r"twice.csv has the column\(s\) \['text'\] more than once"
    ):
        own_data(path)
    df = pd.DataFrame([["a", "b", 1]] * 20, columns=["text", "text", "label"])
    with pytest.raises(ValueError, match=r"the DataFrame has the column\(s\) \['text'\]"):
        own_data(df)


def test_labels_differing_by_whitespace_are_one_class():
    df = texts_df()
    df.loc[::4, "label"] = df.loc[::4, "label"] + " "  # "pos " and " neg"
    df.loc[2::4, "label"] = " " + df.loc[2::4, "label"]
    data = own_data(df)
    assert data.classes == ("neg", "pos")


@pytest.mark.parametrize("marker", ["NA", "NULL", "N/A", "nan", "None"])
def test_missing_value_markers_are_no_class(marker):
    df = texts_df()
    df.loc[[3, 7], "label"] = marker
    with pytest.raises(ValueError) as err:
        own_data(df)
    assert f"label_column='label' holds ['{marker}']" in str(err.value)
    assert "rows [3, 7]" in str(err.value) and "missing label" in str(err.value)


def test_repeated_rows_never_put_a_test_text_in_train():
    with pytest.warns(UserWarning, match="120 rows repeat the text of an earlier row"):
        data = own_data(texts_df(repeat=3))
    by_split = {s: {t for t, x in zip(data.texts, data.splits, strict=True) if x == s} for s in SPL}
    assert not by_split["train"] & (by_split["val"] | by_split["test"])
    assert data.split_sizes()["test"] > 0 and data.split_sizes()["val"] > 0
    train, val, test = own_tensors(data, 100, 8)
    assert len(train) + len(val) + len(test) == 180


def test_distinct_rows_split_as_before_and_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = own_data(texts_df())
    assert data.split_sizes() == {"train": 48, "val": 6, "test": 6}


def test_a_given_split_that_repeats_train_texts_in_test_is_refused():
    df = texts_df(repeat=2)
    df["split"] = ["train", "test"] * 60
    df.loc[:9, "split"] = "val"
    with pytest.raises(ValueError, match=r"(\d+) val/test rows repeat a text of the train split"):
        own_data(df)


def test_a_folder_named_like_a_csv_is_named(tmp_path):
    (tmp_path / "x.csv").mkdir()
    with pytest.raises(ValueError, match="x.csv is a folder, not a CSV file"):
        own_data(tmp_path / "x.csv")
