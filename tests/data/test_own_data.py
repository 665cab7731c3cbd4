"""Your own data (course_lib.data.own): a 3-class CSV, a DataFrame, a plain text; splits,
tokenizer and the errors a learner meets. All data is generated here, none is shipped."""

import json

import numpy as np
import pandas as pd
import pytest

from course_lib import ModelConfig, TrainConfig
from course_lib.__main__ import main
from course_lib.data.own import adapt_runs, own_data, own_tensors, own_text
from course_lib.data.shipped import UNK_ID
from course_lib.experiments.presets import fast_preset
from course_lib.experiments.results import read_results
from course_lib.experiments.run import run_experiment, run_key
from course_lib.experiments.sweep import run_sweep

WORDS = {"pos": "good great fine love", "neg": "bad awful hate poor", "neu": "ok table chair plain"}
TINY = ModelConfig(vocab_size=60, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=12)
QUICK = TrainConfig(steps=40, batch_size=32, lr=3e-3, warmup_steps=4, device="cpu")


def reviews(n=150, classes=("pos", "neg", "neu"), seed=0):
    """Short texts whose words give their class away, plus filler words and a number
    (each text once: a repeated text would be kept in one split, with a warning)."""
    rng = np.random.RandomState(seed)
    rows = []
    for i in range(n):
        c = classes[i % len(classes)]
        words = rng.choice(WORDS[str(c)].split() if str(c) in WORDS else ["w"], 4).tolist()
        rows.append({"review": " ".join(words + ["the", "film", str(i)]), "stars": c})
    return pd.DataFrame(rows)


@pytest.fixture
def three_class_csv(tmp_path):
    path = tmp_path / "my.csv"
    reviews().to_csv(path, index=False)
    return path


def test_a_3_class_csv_trains_with_run_experiment(three_class_csv, one_thread):
    data = own_data(three_class_csv, text_column="review", label_column="stars")
    assert data.classes == ("neg", "neu", "pos") and data.split_sizes() == {
        "train": 120,
        "val": 15,
        "test": 15,
    }
    rec = run_experiment(TINY.replace(n_classes=3), QUICK, data, progress=False)
    assert rec["dataset"] == str(data) and rec["dataset"].startswith("my.csv@")
    assert rec["n_classes"] == 3 and rec["accuracy"] > 0.6  # chance is 1/3


def test_a_path_or_dataframe_with_text_and_label_columns_is_enough(tmp_path, one_thread):
    df = reviews(90).rename(columns={"review": "text", "stars": "label"})
    df.to_csv(tmp_path / "plain.csv", index=False)
    rec = run_experiment(
        TINY.replace(n_classes=3),
        QUICK.replace(steps=5, warmup_steps=1),
        tmp_path / "plain.csv",
        progress=False,
    )
    assert rec["dataset"].startswith("plain.csv@")
    assert (
        own_data(df).name.split("@")[1] == rec["dataset"].split("@")[1]
    )  # same content, same hash


def test_integer_labels_keep_their_order_and_names():
    data = own_data(reviews(60, classes=(5, 1, 2)), "review", "stars")
    assert data.classes == ("1", "2", "5") and set(data.labels) == {0, 1, 2}
    from_csv_text = own_data(reviews(60, classes=("5", "1", "2")), "review", "stars")
    assert from_csv_text.classes == ("1", "2", "5") and from_csv_text.labels == data.labels


def test_splits_are_reproducible_stratified_and_seeded():
    df = reviews(100, classes=("pos", "neg"))
    a, b = own_data(df, "review", "stars"), own_data(df, "review", "stars")
    assert a.splits == b.splits and a.name == b.name
    c = own_data(df, "review", "stars", split_seed=1)
    assert c.splits != a.splits and c.name != a.name
    for cls in (0, 1):  # 80/10/10 within each class
        mine = [s for s, y in zip(a.splits, a.labels, strict=True) if y == cls]
        assert (mine.count("train"), mine.count("val"), mine.count("test")) == (40, 5, 5)


def test_a_split_column_is_used_as_given():
    df = reviews(30).assign(split=["train"] * 20 + ["val"] * 5 + ["test"] * 5)
    data = own_data(df, "review", "stars")
    assert data.splits == tuple(df["split"])


def test_the_tokenizer_sees_the_training_split_only():
    df = reviews(40, classes=("pos", "neg"))
    df.loc[3, "review"] = "zebra zebra zebra"  # a word only one row has
    data = own_data(df, "review", "stars")
    split = data.splits[3]
    train, val, test = own_tensors(data, 100, 8)
    ds = {"train": train, "val": val, "test": test}[split]
    row = [i for i, s in enumerate(data.splits) if s == split].index(3)
    ids = ds.tensors[0][row]
    assert (ids[:3] == UNK_ID).all() == (split != "train")


def test_a_plain_text_trains_a_char_lm(tmp_path, one_thread):
    text = "".join(np.random.RandomState(0).choice(list("abcde fgh\n"), 3000))
    (tmp_path / "notes.txt").write_text(text)
    data = own_data(tmp_path / "notes.txt")
    assert data.task == "lm" and data.char_vocab_size == 12  # 10 characters + pad + unknown
    cfg = TINY.replace(task="lm", vocab_size=data.char_vocab_size, max_len=32)
    rec = run_experiment(cfg, QUICK.replace(steps=5, warmup_steps=1), data, progress=False)
    assert rec["dataset"].startswith("notes.txt@") and rec["val_loss"] < 3.0  # ln(12) = 2.48
    assert own_text(text, "notes.txt").name == data.name


def test_a_sweep_on_own_data_resumes_and_a_changed_file_is_new_runs(
    three_class_csv, tmp_path, one_thread
):
    data = own_data(three_class_csv, "review", "stars")
    runs = [
        (TINY.replace(n_classes=3, sharing=s), QUICK.replace(steps=3, warmup_steps=1), data)
        for s in ("none", "all")
    ]
    out = tmp_path / "mine.csv"
    df = run_sweep(runs, out, progress=False, seeds=[0, 1])
    assert len(df) == 4 and set(df["dataset"]) == {str(data)}
    assert len(run_sweep(runs, out, progress=False, seeds=[0, 1])) == 4  # resumed: nothing new
    changed = own_data(reviews(seed=1), "review", "stars")
    assert run_key(*runs[0][:2], changed) != run_key(*runs[0])


def test_the_cli_sweeps_own_data(three_class_csv, tmp_path, monkeypatch, capsys):
    seen = []

    def stand_in(model_cfg, train_cfg, dataset, progress=True):
        seen.append((model_cfg.n_classes, str(dataset)))
        from course_lib.experiments.run import record_stub

        return record_stub(model_cfg, train_cfg, dataset) | {"accuracy": 0.5}

    monkeypatch.setattr("course_lib.experiments.sweep.run_experiment", stand_in)
    out = tmp_path / "mine.csv"
    argv = ["sweep", "--preset", "fast", "--data", str(three_class_csv), "--text-column", "review",
            "--label-column", "stars", "--seeds", "0-1", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert len(seen) == 14 and {n for n, _ in seen} == {3}  # 7 plans x 2 seeds, 3 classes
    assert json.loads(out.with_suffix(".json").read_text())["preset"] == "fast"
    assert read_results(out)["dataset"].str.startswith("my.csv@").all()


def test_adapt_runs_keeps_the_task_and_fits_the_data():
    data = own_text("hello world, " * 100)
    runs = adapt_runs(fast_preset(), data)
    assert len(runs) == 3 and all(
        m.task == "lm" and m.vocab_size == data.char_vocab_size for m, _, _ in runs
    )


# ------------------------------------------------------------ clear errors, named cases

DF = reviews(30)
BAD = [
    ("missing_text_column", lambda: own_data(DF), "text_column='text' is not allowed: the DataFrame has the columns ['review', 'stars']"),
    ("missing_label_column", lambda: own_data(DF, "review"), "label_column='label' is not allowed"),
    ("empty_text_column", lambda: own_data(DF.assign(review=""), "review", "stars"), "text_column='review': the column of the DataFrame is empty"),
    ("some_texts_missing", lambda: own_data(DF.assign(review=[None, *DF.review[1:]]), "review", "stars"), "1 empty or missing values in the DataFrame (rows [0])"),
    ("empty_label_column", lambda: own_data(DF.assign(stars=np.nan), "review", "stars"), "label_column='stars': the column of the DataFrame is empty"),
    ("single_class", lambda: own_data(DF.assign(stars="pos"), "review", "stars"), "has a single class ('pos')"),
    ("numbers_as_texts", lambda: own_data(DF.assign(review=range(30)), "review", "stars"), "text_column='review' holds non-text values"),
    ("number_strings_as_texts", lambda: own_data(DF.assign(review=[str(i) for i in range(30)]), "review", "stars"), "holds only numbers"),
    ("fractional_labels", lambda: own_data(DF.assign(stars=[0.5, 1.0, 2.0] * 10), "review", "stars"), "labels must be names or integers"),
    ("nan_string_label", lambda: own_data(DF.assign(stars=["nan", "1", "2"] * 10), "review", "stars"), "mark a missing label"),
    ("list_labels", lambda: own_data(DF.assign(stars=[[1]] * 30), "review", "stars"), "labels must be names or integers"),
    ("no_rows", lambda: own_data(DF.iloc[:0], "review", "stars"), "the DataFrame has no rows"),
    ("too_few_rows", lambda: own_data(DF.iloc[:4], "review", "stars"), "too few rows (4)"),
    ("bad_split_values", lambda: own_data(DF.assign(split="dev"), "review", "stars"), "split_column='split' in the DataFrame holds ['dev']"),
    ("missing_csv_file", lambda: own_data("no_such_file.csv"), "data file no_such_file.csv is missing"),
    ("missing_txt_file", lambda: own_data("no_such_file.txt"), "data file no_such_file.txt is missing"),
    ("list_as_dataset", lambda: own_data([("a", 1)]), "dataset=[('a', 1)] is not allowed"),
    ("typo_in_a_shipped_name", lambda: run_experiment(TINY, QUICK, "rotten_tomato"), "dataset='rotten_tomato' is not allowed"),
    ("empty_text", lambda: own_text("  \n"), "text of 'text' is empty"),
    ("text_not_a_str", lambda: own_text(b"abc"), "text=bytes is not allowed"),
    ("wrong_n_classes", lambda: run_experiment(TINY, QUICK, own_data(DF, "review", "stars")), "n_classes=2 is not allowed with dataset dataframe@"),
    ("lm_config_on_a_csv", lambda: run_experiment(TINY.replace(task="lm"), QUICK, own_data(DF, "review", "stars")), "task='lm' is not allowed"),
    ("lm_vocab_too_small", lambda: run_experiment(TINY.replace(task="lm", vocab_size=5), QUICK, own_text("abcdefghij" * 40)), "vocab_size=5 is not allowed"),
    ("text_too_short_for_max_len", lambda: run_experiment(TINY.replace(task="lm", vocab_size=20, max_len=64), QUICK, own_text("abcdefghij" * 40)), "max_len=64 is not allowed"),
]  # fmt: skip


@pytest.mark.parametrize("call, words", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_own_data_errors_name_the_field(call, words):
    with pytest.raises(ValueError) as err:
        call()
    assert words in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_an_unreadable_csv_is_named(tmp_path):
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00text\n")
    with pytest.raises(ValueError, match="bad.csv"):
        own_data(tmp_path / "bad.csv")


def test_the_cli_names_a_bad_data_option(tmp_path, capsys):
    reviews(30).to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "sweep",
                "--preset",
                "fast",
                "--data",
                str(tmp_path / "r.csv"),
                "--out",
                str(tmp_path / "o.csv"),
            ]
        )
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "argument --data: text_column='text' is not allowed" in err


def test_the_training_panel_trains_on_own_data(one_thread):
    from course_lib.views.training_panel import TrainingPanel

    data = own_data(reviews(90), "review", "stars")
    quick = QUICK.replace(steps=5, warmup_steps=1)
    panel = TrainingPanel(TINY.replace(n_classes=3), quick, data, selected=("all",), progress=False)
    table = panel.train()
    assert list(table["name"]) == ["all"] and 0 <= table["accuracy"][0] <= 1
    wrong = TrainingPanel(TINY, quick, data, selected=("all",), progress=False)
    wrong.train()  # two classes configured, three in the data: a message, no traceback
    assert "n_classes=2 is not allowed with dataset dataframe@" in wrong.status.value
