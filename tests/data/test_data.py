"""Shipped data: checksums, splits, label balance, and the tokenizers."""

import hashlib
import importlib.util

import pytest
import torch

from course_lib.data import shipped as data
from course_lib.data.shipped import (
    PAD_ID,
    UNK_ID,
    CharTokenizer,
    WordTokenizer,
    char_lm_tensors,
    classification_tensors,
    load_rotten_tomatoes,
    load_shakespeare,
)

DATA = data.DATA_DIR


def test_checksums_match_sha256sums():
    lines = (DATA / "SHA256SUMS").read_text().splitlines()
    names = set()
    for line in lines:
        digest, name = line.split()
        names.add(name)
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name
    assert names == {data.RT_FILE, data.SHAKESPEARE_FILE}


def test_shipped_data_stays_small():
    total = sum((DATA / n).stat().st_size for n in (data.RT_FILE, data.SHAKESPEARE_FILE))
    assert total < 3 * 2**20


def test_build_script_is_deterministic_offline(tmp_path):
    """The builder's pure steps give the same bytes twice (no network: fake package files)."""
    spec = importlib.util.spec_from_file_location("build_data", DATA / "build_data.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.gzip_bytes(b"abc") == build.gzip_bytes(b"abc")
    rows = [(f"text {i}", i % 2) for i in range(100)]
    assert build.split_of(rows) == build.split_of(list(rows))
    assert build.split_of(rows).count("train") == 80
    target = tmp_path / "f.bin"
    build.write_atomic(target, b"xyz")
    assert target.read_bytes() == b"xyz" and list(tmp_path.iterdir()) == [target]


def test_rotten_tomatoes_splits():
    splits = load_rotten_tomatoes()
    sizes = {k: len(v) for k, v in splits.items()}
    assert sizes == {"train": 10201, "val": 1275, "test": 1276}
    texts = {k: {t for t, _ in v} for k, v in splits.items()}
    assert sum(len(t) for t in texts.values()) == 12752  # no duplicates inside a split either
    assert not texts["train"] & texts["val"]
    assert not texts["train"] & texts["test"]
    assert not texts["val"] & texts["test"]
    overall = sum(y for v in splits.values() for _, y in v) / 12752
    assert abs(overall - 0.578) < 0.001
    for name, rows in splits.items():
        assert {y for _, y in rows} == {0, 1}
        assert abs(sum(y for _, y in rows) / len(rows) - overall) < 0.005, name


def test_shakespeare_text():
    text = load_shakespeare()
    assert len(text) == 1_036_004
    assert text.startswith("HAMLET, PRINCE OF DENMARK")
    assert "Gutenberg" not in text and text.isascii()
    assert "\n\n\n\n" not in text


def test_word_tokenizer_ids_and_padding():
    tok = WordTokenizer.fit(["the cat sat", "the dog sat", "the end"], vocab_size=5)
    assert tok.vocab[:2] == ["<pad>", "<unk>"] and tok.vocab_size == 5
    assert tok.vocab[2:] == ["the", "sat", "cat"]  # by frequency, ties alphabetical
    assert tok.encode("The cat ran", max_len=5) == [2, 4, UNK_ID, PAD_ID, PAD_ID]
    assert tok.encode("the the the the", max_len=2) == [2, 2]
    assert tok.decode(tok.encode("the cat", max_len=4)) == "the cat"
    with pytest.raises(ValueError, match="^vocab_size=2"):
        WordTokenizer.fit(["a"], vocab_size=2)


def test_char_tokenizer_round_trip():
    text = load_shakespeare()[:5000]
    tok = CharTokenizer.fit(text)
    assert tok.vocab_size == len(set(text)) + 2
    ids = tok.encode(text)
    assert min(ids) >= 2 and tok.decode(ids) == text
    assert tok.encode("~") == [UNK_ID]


def test_classification_tensors_use_train_vocab_only():
    train, val, test, tok = classification_tensors(vocab_size=2000, max_len=24)
    assert tok.vocab_size == 2000
    assert train.tensors[0].shape == (10201, 24) and train.tensors[0].dtype == torch.long
    assert test.tensors[1].shape == (1276,)
    refit = WordTokenizer.fit((t for t, _ in load_rotten_tomatoes()["train"]), 2000)
    assert refit.vocab == tok.vocab
    # every row starts with a real token (texts are non-empty) and ids stay in range
    assert (train.tensors[0][:, 0] != PAD_ID).all()
    assert int(train.tensors[0].max()) < 2000
    val_unk = (val.tensors[0] == UNK_ID).float().sum() / (val.tensors[0] != PAD_ID).sum()
    assert 0.02 < float(val_unk) < 0.3


def test_char_lm_tensors_are_shifted_windows():
    train, val, tok = char_lm_tensors(block_size=64)
    x, y = train.tensors
    assert x.shape == y.shape and x.shape[1] == 64
    assert torch.equal(x[:, 1:], y[:, :-1])
    assert int(x[1, 0]) == int(y[0, -1])  # windows follow each other without overlap
    assert tok.decode(x[0].tolist()) == load_shakespeare()[:64]
    assert len(val) == (103_601 - 65) // 64 + 1
    with pytest.raises(ValueError, match="^block_size=0"):
        char_lm_tensors(block_size=0)
