"""Small synthetic tasks, seeded, generated in milliseconds (notebook 03; later 09).

Each task answers one question about what a Transformer can learn:

- ``order_task``: does token A come before token B? Only a model that knows *positions*
  can tell: without position embeddings attention and mean pooling see a bag of tokens,
  and both orders look the same.
- ``majority_task``: does A occur more often than B? Needs counting, not positions.
- ``arithmetic_sequences``: a tiny causal-LM task; each row counts up from a random start
  with a random step, modulo the vocabulary. After two tokens the rest is determined.
- ``synthetic_batch``: random token ids and targets shaped for a ``ModelConfig``, for the
  measurements of notebook 08 and the distributed training run (nothing to learn there).

Token ids: ``PAD`` = 0 (never generated, so ``pad_id=0`` models work unchanged),
``A`` = 1, ``B`` = 2, filler tokens 3 .. vocab_size-1.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.data import TensorDataset

from course_lib.config import MAX_SEED, ModelConfig
from course_lib.i18n import _

PAD, A, B = 0, 1, 2
FIRST_FILLER = 3


def _check_int(field: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            _("{field}={value} is not allowed: it must be an integer >= {minimum}").format(
                field=field, value=repr(value), minimum=minimum
            )
        )


def _generator(seed: int) -> torch.Generator:
    _check_int("seed", seed, 0)
    if seed > MAX_SEED:
        raise ValueError(
            _("seed={seed} is not allowed: it must be an integer in [0, {max}]").format(
                seed=repr(seed), max=MAX_SEED
            )
        )
    return torch.Generator().manual_seed(seed)


def order_task(n_samples: int, seq_len: int = 12, vocab_size: int = 12, seed: int = 0):
    """Sequences holding one A and one B among fillers; label 1 when A comes first.

    Returns ``TensorDataset(ids (n, seq_len) long, labels (n,) long)``; labels are
    balanced in expectation (each order is equally likely).
    """
    _check_int("n_samples", n_samples, 1)
    _check_int("seq_len", seq_len, 2)
    _check_int("vocab_size", vocab_size, FIRST_FILLER + 1)
    g = _generator(seed)
    ids = torch.randint(FIRST_FILLER, vocab_size, (n_samples, seq_len), generator=g)
    where = torch.rand(n_samples, seq_len, generator=g).argsort(dim=1)[:, :2]  # (n, 2) distinct
    rows = torch.arange(n_samples)
    ids[rows, where[:, 0]] = A
    ids[rows, where[:, 1]] = B
    labels = (where[:, 0] < where[:, 1]).long()
    return TensorDataset(ids, labels)


def majority_task(n_samples: int, seq_len: int = 12, vocab_size: int = 12, seed: int = 0):
    """Sequences with an odd number of A/B tokens among fillers; label 1 when A wins.

    Half of the positions (rounded down to an odd number) hold A or B, each with
    probability 1/2; the rest are fillers. Returns ``TensorDataset(ids, labels)``.
    """
    _check_int("n_samples", n_samples, 1)
    _check_int("seq_len", seq_len, 2)
    _check_int("vocab_size", vocab_size, FIRST_FILLER + 1)
    g = _generator(seed)
    half = seq_len // 2
    n_marked = half if half % 2 else max(1, half - 1)  # odd, so there is never a tie
    ids = torch.randint(FIRST_FILLER, vocab_size, (n_samples, seq_len), generator=g)
    where = torch.rand(n_samples, seq_len, generator=g).argsort(dim=1)[:, :n_marked]
    marks = torch.where(torch.rand(n_samples, n_marked, generator=g) < 0.5, A, B)
    ids.scatter_(1, where, marks)
    labels = ((ids == A).sum(1) > (ids == B).sum(1)).long()
    return TensorDataset(ids, labels)


def arithmetic_sequences(
    n_samples: int,
    seq_len: int = 12,
    vocab_size: int = 16,
    steps: tuple[int, ...] = (1, 2, 3),
    seed: int = 0,
) -> torch.Tensor:
    """(n, seq_len) rows ``start, start+s, start+2s, ...`` modulo ``vocab_size``.

    ``start`` is uniform over the vocabulary, ``s`` uniform over ``steps``. The first
    token cannot be predicted and the second only up to the step; from the third on,
    every token is determined. Use ``lm_dataset`` to turn rows into (input, target) pairs.
    """
    _check_int("n_samples", n_samples, 1)
    _check_int("seq_len", seq_len, 2)
    _check_int("vocab_size", vocab_size, 2)
    if (
        not isinstance(steps, tuple | list)
        or not steps
        or any(isinstance(s, bool) or not isinstance(s, int) for s in steps)
    ):
        raise ValueError(
            _("steps={steps} is not allowed: it must be a non-empty tuple of ints").format(
                steps=repr(steps)
            )
        )
    g = _generator(seed)
    start = torch.randint(0, vocab_size, (n_samples, 1), generator=g)
    pick = torch.randint(0, len(steps), (n_samples, 1), generator=g)
    step = torch.tensor(steps)[pick]  # (n, 1)
    return (start + step * torch.arange(seq_len)) % vocab_size  # (n, seq_len)


def lm_dataset(seqs: torch.Tensor) -> TensorDataset:
    """Next-token pairs: inputs ``seqs[:, :-1]``, targets ``seqs[:, 1:]`` (both (n, T-1))."""
    if not torch.is_tensor(seqs) or seqs.is_floating_point():
        raise ValueError(
            _("seqs={kind} is not allowed: pass an (n, T) LongTensor").format(
                kind=type(seqs).__name__
            )
        )
    if seqs.dim() != 2 or seqs.size(1) < 2:
        raise ValueError(
            _("seqs of shape {shape} is not allowed: need (n, T >= 2)").format(
                shape=tuple(seqs.shape)
            )
        )
    return TensorDataset(seqs[:, :-1], seqs[:, 1:])


SYNTHETIC_TASKS: dict[str, Callable] = {
    "order": order_task,
    "majority": majority_task,
    "arithmetic": arithmetic_sequences,
}


def make_task(name: str, *args, **kwargs):
    """The task called ``name`` (see ``SYNTHETIC_TASKS``), e.g. ``make_task("order", 1000, seed=1)``."""
    if name not in SYNTHETIC_TASKS:
        raise ValueError(
            _("task={name} is not allowed: choose one of {tasks}").format(
                name=repr(name), tasks=sorted(SYNTHETIC_TASKS)
            )
        )
    return SYNTHETIC_TASKS[name](*args, **kwargs)


def synthetic_batch(
    cfg: ModelConfig, batch_size: int, seq_len: int, seed: int = 0, device="cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random token ids (no padding) and targets for ``cfg.task``: (B, T) and (B,) or (B, T)."""
    if not 1 <= seq_len <= cfg.max_len:
        raise ValueError(
            _("seq_len={seq_len} is not allowed: it must be in [1, {max_len}]").format(
                seq_len=repr(seq_len), max_len=cfg.max_len
            )
        )
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, cfg.vocab_size, (batch_size, seq_len), generator=g)  # avoid pad 0
    if cfg.task == "classify":
        y = torch.randint(0, cfg.n_classes, (batch_size,), generator=g)
    else:
        y = torch.randint(0, cfg.vocab_size, (batch_size, seq_len), generator=g)
    return ids.to(device), y.to(device)
