"""The Dataset type (course_lib.data.dataset): what it accepts, its attributes and checks,
its cached tensors, and a sweep that resolves each dataset once."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_lib import ModelConfig, TrainConfig
from course_lib.data import dataset as dataset_mod
from course_lib.data.dataset import SHIPPED, SHIPPED_SOURCE, Dataset, source_of
from course_lib.data.own import OwnData, own_data, own_text
from course_lib.data.shipped import char_vocab_size
from course_lib.experiments.run import record_stub, run_key
from course_lib.experiments.sweep import run_sweep

RT = ModelConfig(vocab_size=500, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=16)
QUICK = TrainConfig(steps=10, batch_size=32, warmup_steps=2, device="cpu")


def texts_df(n=60):
    return pd.DataFrame(
        {"text": [f"{w} film {i}" for i, w in enumerate(["good", "bad", "fine"] * (n // 3))],
         "label": ["pos", "neg", "mid"] * (n // 3)}
    )  # fmt: skip


def a_text():
    return "".join(np.random.RandomState(0).choice(list("abcdef gh\n"), 2000))


def test_resolve_accepts_what_runs_accept(tmp_path):
    texts_df().to_csv(tmp_path / "my.csv", index=False)
    (tmp_path / "notes.txt").write_text(a_text())
    for name in SHIPPED:
        assert Dataset.resolve(name).name == name
    from_csv = Dataset.resolve(str(tmp_path / "my.csv"))
    assert from_csv.name.startswith("my.csv@") and from_csv.task == "classify"
    assert Dataset.resolve(tmp_path / "my.csv") == from_csv  # a Path: the same data
    assert Dataset.resolve(tmp_path / "notes.txt").task == "lm"
    frame = Dataset.resolve(texts_df())
    assert frame.name.startswith("dataframe@") and frame.classes == ("mid", "neg", "pos")
    data = own_data(texts_df())
    assert isinstance(Dataset.resolve(data).own, OwnData) and Dataset.resolve(data).own is data
    assert Dataset.resolve(from_csv) is from_csv  # resolved once, passed down as it is
    assert str(from_csv) == from_csv.name


@pytest.mark.parametrize(
    "bad, words",
    [("imdb", "dataset='imdb' is not allowed: give 'rotten_tomatoes', 'shakespeare'"),
     ("x.json", "dataset='x.json' is not allowed"),
     (3, "dataset=3 is not allowed"),
     (Path("x.json"), "dataset=PosixPath('x.json') is not allowed")],
)  # fmt: skip
def test_resolve_refuses_anything_else_in_one_line(bad, words):
    with pytest.raises(ValueError, match="^" + words.replace("(", r"\(").replace(")", r"\)")):
        Dataset.resolve(bad)


def test_the_shipped_datasets_carry_their_task_and_vocabulary():
    rt, lm = Dataset.resolve("rotten_tomatoes"), Dataset.resolve("shakespeare")
    assert (rt.task, rt.classes, rt.min_vocab, rt.source) == ("classify", (), 0, SHIPPED_SOURCE)
    assert (lm.task, lm.min_vocab) == ("lm", char_vocab_size())
    assert rt == Dataset.resolve("rotten_tomatoes") and rt != lm  # equal by content


def test_check_names_the_field():
    lm = Dataset.resolve("shakespeare")
    with pytest.raises(
        ValueError, match="^task='classify' is not allowed with dataset='shakespeare'"
    ):
        lm.check(RT)
    with pytest.raises(ValueError, match=f"^vocab_size=20 is not allowed .* >= {lm.min_vocab}"):
        lm.check(RT.replace(task="lm", vocab_size=20))
    lm.check(RT.replace(task="lm", vocab_size=lm.min_vocab))
    Dataset.resolve("rotten_tomatoes").check(RT.replace(n_classes=3))  # any head fits 0/1
    mine = Dataset.resolve(texts_df())
    with pytest.raises(
        ValueError,
        match=rf"^n_classes=2 is not allowed with dataset {mine.name}: it has 3 classes \['mid', 'neg', 'pos'\]; pass n_classes=3",
    ):
        mine.check(RT)
    mine.check(RT.replace(n_classes=3))
    text = Dataset.resolve(own_text(a_text()))
    assert text.min_vocab == 12  # 10 characters + pad + unknown
    with pytest.raises(ValueError, match=f"^vocab_size=5 is not allowed with dataset {text.name}"):
        text.check(RT.replace(task="lm", vocab_size=5))


def test_tensors_are_made_once_per_size_and_file_version():
    rt = Dataset.resolve("rotten_tomatoes")
    train, val, test = rt.tensors(300, 8)
    assert train.tensors[0].shape[1] == 8 and len(test) > 0
    assert Dataset.resolve("rotten_tomatoes").tensors(300, 8)[0] is train  # cached
    assert rt.tensors(300, 9)[0] is not train
    lm = Dataset.resolve(own_text(a_text()))
    lm_train, lm_val, none = lm.tensors(12, 16)
    assert none is None and lm_train.tensors[0].shape[1] == 16
    assert Dataset.resolve(lm.own).tensors(12, 16)[0] is lm_train  # the same data: cached
    with pytest.raises(ValueError, match="^max_len=500 is not allowed with dataset text@"):
        lm.tensors(12, 500)


def test_source_of_a_name_read_back_from_a_csv():
    assert source_of("rotten_tomatoes") == SHIPPED_SOURCE
    assert source_of("my.csv@1a2b3c4d5e6f") == "my.csv"
    assert Dataset.resolve(texts_df()).source == "dataframe"


def test_a_sweep_resolves_each_dataset_once(tmp_path, monkeypatch):
    texts_df().to_csv(tmp_path / "my.csv", index=False)
    calls = []
    real = dataset_mod.own_data
    monkeypatch.setattr(dataset_mod, "own_data", lambda d: calls.append(d) or real(d))
    path = str(tmp_path / "my.csv")  # a path: each resolve would read and hash the file
    runs = [(RT.replace(n_classes=3, sharing=s), QUICK, path) for s in ("none", "all")]
    seen = []

    def stand_in(model_cfg, train_cfg, dataset, progress=True):
        seen.append(dataset)
        return record_stub(model_cfg, train_cfg, dataset) | {"accuracy": 0.5}

    df = run_sweep(runs, tmp_path / "r.csv", progress=False, run_fn=stand_in, seeds=[0, 1])
    assert len(df) == 4 and len(calls) == 1
    assert all(d is seen[0] for d in seen) and isinstance(seen[0], Dataset)
    assert set(df["key"]) == {
        run_key(m, t.replace(seed=s), path) for m, t, _ in runs for s in (0, 1)
    }
