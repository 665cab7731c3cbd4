"""Your own data, sized for you: a model and training config suggested from the data (06).

A fixed small config (the fast preset's: 4,000 words, 32 tokens, 150 steps) fits the
one-sentence movie reviews it was made for. A corpus of longer documents, a larger
vocabulary or many more rows needs more of each, or a learner gets a toy result and no
hint why. ``suggest_configs(data)`` reads the training split and sizes:

- ``vocab_size`` from the word counts: every word seen at least twice (+ pad and unknown),
  rounded up to 500, within [1000, the mode's limit];
- ``max_len`` from the length distribution: the 90th percentile of the texts' lengths in
  words, rounded up to 16, within [16, the mode's limit];
- ``steps`` from the dataset size: about ``EPOCHS`` passes over the training split
  within the mode's limits, warm-up 10%;
- the width, depth and batch from the dataset size too: halved below ``SMALL_DATA`` rows
  (a small dataset fits a small model, and gets more steps per pass);

with FAST limits on a laptop CPU and FULL limits on a GPU (``COURSE_MODE``). A character
LM gets its vocabulary from the text's characters and ``max_len`` from its length.
``sized_runs`` moves a preset's runs onto the data with these sizes, each run keeping its
sharing plan and seed (the command line's ``--data`` uses it).
"""

from __future__ import annotations

import math
from collections import Counter

from course_lib.config import ModelConfig, TrainConfig
from course_lib.data.dataset import Dataset, DatasetLike
from course_lib.data.own import OwnData, own_data
from course_lib.data.shipped import tokenize_words
from course_lib.i18n import _
from course_lib.runtime import get_mode

EPOCHS = 5  # passes over the training split
SMALL_DATA = 2000  # fewer rows: half the width, depth and batch (less to fit, more steps)
LIMITS = {  # per mode: the largest vocabulary, max_len and steps, the width, depth and batch
    "FAST": dict(vocab=8000, max_len=128, steps=(50, 600), d_model=64, n_layers=4, batch=64),
    "FULL": dict(vocab=30000, max_len=512, steps=(100, 3000), d_model=256, n_layers=6, batch=128),
}
LR = {"FAST": 2e-3, "FULL": 1e-3}


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def _steps(n_train: int, batch: int, limits: dict) -> int:
    lo, hi = limits["steps"]
    return min(hi, max(lo, _round_up(EPOCHS * n_train / batch, 10)))


def _check_mode(mode: str | None) -> str:
    mode = get_mode() if mode is None else mode
    if mode not in LIMITS:
        raise ValueError(
            _("mode={mode} is not allowed: choose 'FAST' or 'FULL'").format(mode=repr(mode))
        )
    return mode


def _own(data: DatasetLike) -> OwnData:
    """The learner's data behind ``data``: a Dataset of it, an OwnData, or what ``own_data``
    takes."""
    return data.own if isinstance(data, Dataset) and data.own is not None else own_data(data)


def suggest_configs(data: DatasetLike, mode: str | None = None) -> tuple[ModelConfig, TrainConfig]:
    """(ModelConfig, TrainConfig) sized to ``data`` (a ``Dataset`` of your own data, an
    ``OwnData``, or what ``own_data`` takes) within the limits of ``mode`` ("FAST" or
    "FULL"; default ``COURSE_MODE``). The model is unshared (``sharing="none"``):
    ``cfg.replace(sharing="all")`` for a plan."""
    data, mode = _own(data), _check_mode(mode)
    limits = LIMITS[mode]
    small = len(data.text if data.task == "lm" else data.texts) < SMALL_DATA * (
        100 if data.task == "lm" else 1  # a text: about 100 characters a row
    )
    d = limits["d_model"] // (2 if small else 1)
    layers = limits["n_layers"] // (2 if small else 1)
    shape = dict(d_model=d, n_heads=4, d_ff=4 * d, n_layers=layers)
    if data.task == "lm":
        train_text, val_text = data.lm_splits()
        max_len = max(8, min(2 * limits["max_len"], len(val_text) - 1))
        cfg = ModelConfig(vocab_size=data.char_vocab_size, max_len=max_len, task="lm", **shape)
        n_train = max(1, len(train_text) // max_len)
        batch = min(limits["batch"] // 2, n_train)
    else:
        train = [t for t, s in zip(data.texts, data.splits, strict=True) if s == "train"]
        words = [tokenize_words(t) for t in train]
        counts = Counter(w for ws in words for w in ws)
        seen_twice = sum(n >= 2 for n in counts.values())
        vocab = min(limits["vocab"], max(1000, _round_up(seen_twice + 2, 500)))
        lengths = sorted(len(ws) for ws in words)
        p90 = lengths[min(len(lengths) - 1, int(0.9 * len(lengths)))]
        max_len = min(limits["max_len"], max(16, _round_up(p90, 16)))
        cfg = ModelConfig(vocab_size=vocab, max_len=max_len, n_classes=data.n_classes, **shape)
        n_train = len(train)
        batch = min(limits["batch"] // (2 if small else 1), n_train)
    steps = _steps(n_train, batch, limits)
    train_cfg = TrainConfig(
        steps=steps, batch_size=batch, lr=LR[mode], warmup_steps=max(1, steps // 10)
    )
    return cfg, train_cfg


def sized_runs(runs: list, data: Dataset | OwnData, mode: str | None = None) -> list:
    """A preset's runs of ``data``'s task, moved onto ``data`` with the suggested sizes:
    each keeps its sharing plan (sharing, n_layers, n_blocks) and its seed."""
    cfg, train_cfg = suggest_configs(data, mode)
    out = []
    for model_cfg, run_train, _dataset in (r for r in runs if r[0].task == data.task):
        plan = dict(sharing=model_cfg.sharing, n_layers=model_cfg.n_layers,
                    n_blocks=model_cfg.n_blocks)  # fmt: skip
        out.append((cfg.replace(**plan), train_cfg.replace(seed=run_train.seed), data))
    return out
