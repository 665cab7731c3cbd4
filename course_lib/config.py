"""Typed configurations for models and training, validated on creation.

Every field has a default and maps one-to-one onto a widget control (notebooks 04 and 06).
A wrong value raises ``ValueError`` whose message names the field, the value given and
what is allowed, so a learner sees what to change instead of a deep traceback.

Used by every notebook from 03 on; ``ModelConfig.sharing`` follows the strategy names of
ALBERT (Lan et al. 2020) and Takase & Kiyono (2021), see ``course_lib.nn.sharing``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

BLOCK_STRATEGIES = ("sequence", "cycle", "cycle_rev")  # whole blocks shared; these take M
SHARING_STRATEGIES = ("none", "all", "attention", "ffn", *BLOCK_STRATEGIES)
TRAIN_TASKS = ("classify", "lm")  # the tasks with a loss: train_model trains these
TASKS = (*TRAIN_TASKS, "encode")  # encode: hidden states, no head (HF AlbertModel)
ATTN_IMPLS = ("manual", "sdpa")
ACTIVATIONS = ("gelu", "relu", "gelu_tanh")  # gelu_tanh: HF's "gelu_new" (ALBERT)
INITS = ("normal", "xavier", "he")
OPTIMIZERS = ("adamw", "adam", "sgd")
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_SEED = 2**32 - 1  # the largest seed numpy's legacy generator accepts


def _(message: str) -> str:
    """``course_lib.i18n._`` (the learner's language) without importing it: config is the
    lowest layer, so it looks the catalogue up once course_lib has loaded it (course_lib's
    ``__init__`` does, through ``nn``); before that, and in English, the text itself."""
    i18n = sys.modules.get("course_lib.i18n")
    return message if i18n is None else i18n._(message)


def reject(field: str, value: Any, allowed: str) -> None:
    """Raise the course's one-line error: ``field=value is not allowed: <what is>``.

    ``allowed`` is already in the learner's language (``_("...").format(...)``); field
    names and values stay as they are."""
    raise ValueError(
        _("{field}={value} is not allowed: {allowed}").format(
            field=field, value=repr(value), allowed=allowed
        )
    )


def check_int(field: str, value: Any, minimum: int) -> None:
    """Reject ``value`` unless it is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        reject(field, value, _("it must be an integer >= {minimum}").format(minimum=minimum))
    if value < minimum:
        reject(field, value, _("it must be an integer >= {minimum}").format(minimum=minimum))


def _check_known(cls: type, changes: dict[str, Any]) -> None:
    unknown = sorted(set(changes) - {f.name for f in fields(cls)})
    if unknown:
        known = ", ".join(f.name for f in fields(cls))
        name = unknown[0]
        raise ValueError(
            _("{name}={value} is not allowed: not a {cls} field; known: {known}").format(
                name=name, value=repr(changes[name]), cls=cls.__name__, known=known
            )
        )


def _check_choice(field: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        reject(
            field,
            value,
            _("choose one of {choices}").format(choices=", ".join(repr(c) for c in choices)),
        )


@dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters of one model; ``build_model(cfg)`` turns it into an ``nn.Module``."""

    vocab_size: int = 1000
    d_model: int = 256  # H, the width of every block
    n_heads: int = 4
    d_ff: int = 1024  # hidden width of the feed-forward sublayer
    n_layers: int = 12  # N, the depth: how many blocks the input passes through
    sharing: str = "none"  # one of SHARING_STRATEGIES
    n_blocks: int | None = None  # M, distinct blocks for sequence/cycle/cycle_rev
    max_len: int = 128
    task: str = "classify"  # "classify" (sequence classifier) or "lm" (causal LM)
    n_classes: int = 2  # only used when task == "classify"
    embed_dim: int | None = None  # E; None means E = d_model (no factorization)
    tie_embeddings: bool = False  # LM head reuses the input embedding matrix
    norm_first: bool = True  # pre-LN (True) or post-LN as in BERT/ALBERT (False)
    dropout: float = 0.0
    activation: str = "gelu"
    attn_impl: str = "manual"  # "manual" (taught, from scratch) or "sdpa" (fast path)
    pad_id: int = 0
    init: str = "normal"  # weight init: N(0, 0.02) as BERT, or Xavier, or He (notebook 06)
    # ALBERT exactly (course_lib.nn.albert): the defaults keep the course's own layout.
    embed_norm: bool = False  # True: proj(LayerNorm(tok + pos + type)), positions E wide
    type_vocab_size: int = 0  # token-type (segment) embeddings; 0 means none
    norm_eps: float = 1e-5  # eps of every LayerNorm (ALBERT: 1e-12)
    pooler: bool = False  # Linear + tanh on the first token (classify: the head reads it)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_heads", "d_ff", "n_layers", "max_len"):
            check_int(name, getattr(self, name), 1)
        if self.d_model % self.n_heads:
            reject("d_model", self.d_model,
                   _("it must be divisible by n_heads={n_heads}").format(n_heads=self.n_heads))  # fmt: skip
        _check_choice("sharing", self.sharing, SHARING_STRATEGIES)
        _check_choice("task", self.task, TASKS)
        _check_choice("attn_impl", self.attn_impl, ATTN_IMPLS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("init", self.init, INITS)
        if self.sharing in BLOCK_STRATEGIES:
            if self.n_blocks is None:
                reject("n_blocks", None,
                       _("sharing={sharing} needs n_blocks (M) set").format(sharing=repr(self.sharing)))  # fmt: skip
            check_int("n_blocks", self.n_blocks, 1)
            if self.n_blocks > self.n_layers:
                reject("n_blocks", self.n_blocks,
                       _("it must be <= n_layers={n_layers}").format(n_layers=self.n_layers))  # fmt: skip
        elif self.n_blocks is not None:  # ignored by these plans, yet part of the run key
            reject(
                "n_blocks",
                self.n_blocks,
                _(
                    "sharing={sharing} has no M; only 'sequence', 'cycle' and 'cycle_rev' "
                    "take n_blocks (leave it None)"
                ).format(sharing=repr(self.sharing)),  # fmt: skip
            )
        if self.task == "classify":
            check_int("n_classes", self.n_classes, 2)
        if self.embed_dim is not None:
            check_int("embed_dim", self.embed_dim, 1)
            if self.embed_dim > self.d_model:
                reject("embed_dim", self.embed_dim,
                       _("it must be <= d_model={d_model}").format(d_model=self.d_model))  # fmt: skip
        if not isinstance(self.tie_embeddings, bool):
            reject("tie_embeddings", self.tie_embeddings, _("it must be True or False"))
        if self.tie_embeddings and self.task != "lm":
            reject("tie_embeddings", True, _("tying needs task='lm' (a classifier has no LM head)"))
        if not isinstance(self.norm_first, bool):
            reject("norm_first", self.norm_first, _("it must be True or False"))
        if not isinstance(self.dropout, int | float) or not 0.0 <= self.dropout < 1.0:
            reject("dropout", self.dropout, _("it must be a number in [0, 1)"))
        if isinstance(self.pad_id, bool) or not isinstance(self.pad_id, int):
            reject("pad_id", self.pad_id,
                   _("it must be an integer in [0, {vocab_size})").format(vocab_size=self.vocab_size))  # fmt: skip
        if not 0 <= self.pad_id < self.vocab_size:
            reject("pad_id", self.pad_id,
                   _("it must be an integer in [0, {vocab_size})").format(vocab_size=self.vocab_size))  # fmt: skip
        self._check_albert_options()

    def _check_albert_options(self) -> None:
        for name in ("embed_norm", "pooler"):
            if not isinstance(getattr(self, name), bool):
                reject(name, getattr(self, name), _("it must be True or False"))
        check_int("type_vocab_size", self.type_vocab_size, 0)
        eps = self.norm_eps
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0 < eps < 1:
            reject("norm_eps", eps, _("it must be a number in (0, 1), e.g. 1e-5 or 1e-12"))
        if self.pooler and self.task == "lm":
            reject("pooler", True, _("a pooler needs task='classify' or 'encode' (not 'lm')"))

    @property
    def d_embed(self) -> int:
        """E, the embedding width actually used (``embed_dim`` or ``d_model``)."""
        return self.embed_dim if self.embed_dim is not None else self.d_model

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed, validated again."""
        _check_known(ModelConfig, changes)
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                _("unknown ModelConfig field(s) {unknown}; known: {known}").format(
                    unknown=unknown, known=sorted(known)
                )
            )
        return cls(**d)

    @classmethod
    def preset(cls, name: str, **changes: Any) -> ModelConfig:
        """Named sizes: tiny (CPU, seconds), small, albert_base, bert_base."""
        if name not in PRESETS:
            reject(
                "preset",
                name,
                _("choose one of {choices}").format(choices=", ".join(repr(p) for p in PRESETS)),
            )
        return cls(**{**PRESETS[name], **changes})


PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(vocab_size=1000, d_model=64, n_heads=4, d_ff=256, n_layers=4, max_len=64),
    "small": dict(vocab_size=8000, d_model=256, n_heads=4, d_ff=1024, n_layers=6, max_len=128),
    "albert_base": dict(  # = transformers.AlbertModel(AlbertConfig()): 11,683,584
        vocab_size=30000, d_model=768, n_heads=12, d_ff=3072, n_layers=12, max_len=512,
        sharing="all", embed_dim=128, norm_first=False, task="encode", embed_norm=True,
        type_vocab_size=2, norm_eps=1e-12, activation="gelu_tanh", pooler=True,
    ),
    "bert_base": dict(
        vocab_size=30522, d_model=768, n_heads=12, d_ff=3072, n_layers=12, max_len=512,
        norm_first=False,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimizer, schedule, batch, seed and device (notebooks 03, 06-10)."""

    steps: int = 200  # optimizer steps
    batch_size: int = 32
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 0.01
    warmup_steps: int = 20  # linear warm-up, then cosine decay to 10% of lr
    grad_clip: float | None = 1.0  # max global gradient norm; None switches clipping off
    optimizer: str = "adamw"
    seed: int = 0
    eval_every: int = 0  # 0: evaluate only at the end
    device: str = "auto"  # "auto" picks CUDA, then MPS, then CPU
    amp: bool = True  # bfloat16 autocast, only ever applied on CUDA

    def __post_init__(self) -> None:
        check_int("steps", self.steps, 1)
        check_int("batch_size", self.batch_size, 1)
        check_int("warmup_steps", self.warmup_steps, 0)
        check_int("seed", self.seed, 0)
        if self.seed > MAX_SEED:  # numpy.random.seed takes 32-bit seeds only
            reject("seed", self.seed,
                   _("it must be an integer in [0, {max_seed}] (2**32 - 1)").format(max_seed=MAX_SEED))  # fmt: skip
        if self.warmup_steps > self.steps:
            reject(
                "warmup_steps",
                self.warmup_steps,
                _("it must be <= steps={steps} (the learning rate would never reach lr)").format(
                    steps=self.steps
                ),
            )
        check_int("eval_every", self.eval_every, 0)
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                reject(name, value, _("it must be a finite number >= 0"))
            if not 0 <= value < math.inf:  # NaN fails this too
                reject(name, value, _("it must be a finite number >= 0"))
        if self.lr == 0:
            reject("lr", self.lr, _("it must be a number > 0"))
        if self.grad_clip is not None and (
            isinstance(self.grad_clip, bool)
            or not isinstance(self.grad_clip, int | float)
            or not 0 < self.grad_clip < math.inf
        ):
            reject(
                "grad_clip", self.grad_clip, _("it must be a number > 0, or None for no clipping")
            )
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("device", self.device, DEVICES)
        if not isinstance(self.amp, bool):
            reject("amp", self.amp, _("it must be True or False"))

    def replace(self, **changes: Any) -> TrainConfig:
        _check_known(TrainConfig, changes)
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
