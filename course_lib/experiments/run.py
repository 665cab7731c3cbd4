"""Experiments: one run -> one flat record (notebooks 06, 08, 09; the training panel).

``run_experiment`` builds a model from its ``ModelConfig``, trains it on a dataset
(resolved once: ``course_lib.data.dataset.Dataset``) and returns a flat record (parameters
unique and per use, accuracy or loss, speed, memory, device and every config field).
``run_key`` names a run by its configs and dataset alone. Sweeps over many runs live in
``course_lib.experiments.sweep`` (resumable CSVs), the presets and seeds in
``course_lib.experiments.presets``, the provenance in ``course_lib.experiments.provenance``.
From the shell: ``python -m course_lib sweep --preset fast --out data/results/fast.csv``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from typing import Any

import torch

from course_lib.config import BLOCK_STRATEGIES, ModelConfig, TrainConfig
from course_lib.data.dataset import Dataset, DatasetLike
from course_lib.i18n import _
from course_lib.nn.counts import count_parameters, count_parameters_per_use
from course_lib.nn.model import build_model
from course_lib.nn.sharing import SharingPlan
from course_lib.runtime import seed_everything
from course_lib.training.train import evaluate, train_model

RESULT_COLUMNS = tuple(
    "key name dataset plan sharing n_layers n_blocks n_attn n_ffn unique_params per_use_params "
    "matmul_params accuracy val_accuracy final_train_loss train_time_s tokens_per_s peak_mem_mb "
    "device device_name torch seed vocab_size d_model n_heads d_ff max_len task n_classes "
    "embed_dim tie_embeddings norm_first dropout activation attn_impl pad_id init n_blocks_cfg "
    "steps batch_size lr weight_decay warmup_steps grad_clip optimizer eval_every "
    "device_requested amp model_config train_config val_loss val_bpc".split()
)  # a record's columns, in the order of data/results/full_sweep.csv; all config fields,
# later ones included, are in the model_config / train_config JSON columns
KEY_FIELDS = {  # the config fields every run key holds: those of the first sweeps (fixed)
    "model": tuple(
        "vocab_size d_model n_heads d_ff n_layers sharing n_blocks max_len task n_classes "
        "embed_dim tie_embeddings norm_first dropout activation attn_impl pad_id init".split()
    ),
    "train": tuple(
        "steps batch_size lr weight_decay warmup_steps grad_clip optimizer seed eval_every "
        "device amp".split()
    ),
}


def run_key(model_cfg: ModelConfig, train_cfg: TrainConfig, dataset: DatasetLike) -> str:
    """A stable id of one configuration: sha256 of its configs and dataset, 16 hex digits.

    A function of the configs (seed included) and the dataset's name only, never of the
    results CSV's columns: the ``KEY_FIELDS`` always count, a config field added since
    only when it differs from its default, so the shipped results keep their keys."""

    def fields(cfg: ModelConfig | TrainConfig, always: tuple[str, ...]) -> dict[str, Any]:
        defaults = {f.name: f.default for f in dataclasses.fields(cfg)}
        return {k: v for k, v in cfg.to_dict().items() if k in always or v != defaults[k]}

    blob = json.dumps(
        {
            "dataset": Dataset.resolve(dataset).name,
            "model": fields(model_cfg, KEY_FIELDS["model"]),
            "train": fields(train_cfg, KEY_FIELDS["train"]),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def check_run(model_cfg: Any, train_cfg: Any, dataset: DatasetLike) -> Dataset:
    """The run's Dataset, or a ValueError naming the field when the run cannot start
    (before any training)."""
    if not isinstance(model_cfg, ModelConfig):
        raise ValueError(
            _("model_cfg={kind} is not allowed: pass a ModelConfig").format(
                kind=type(model_cfg).__name__
            )
        )
    if not isinstance(train_cfg, TrainConfig):
        raise ValueError(
            _("train_cfg={kind} is not allowed: pass a TrainConfig").format(
                kind=type(train_cfg).__name__
            )
        )
    dataset = Dataset.resolve(dataset)
    dataset.check(model_cfg)
    return dataset


def matmul_parameters(model: torch.nn.Module) -> int:
    """Per-use parameters that take part in a matmul: all but the embedding lookup tables
    (a tied LM head still counts, as the output projection it is)."""
    lookups = model.embed.tok_emb.weight.numel() + model.embed.pos_emb.weight.numel()
    return count_parameters_per_use(model) - lookups


def device_name(device: str) -> str:
    return torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.machine()


def run_name(cfg: ModelConfig) -> str:
    """A short label such as ``cycle N12 M6`` or ``none N6``."""
    m = f" M{cfg.n_blocks}" if cfg.sharing in BLOCK_STRATEGIES else ""
    return f"{cfg.sharing} N{cfg.n_layers}{m}"


def record_stub(
    model_cfg: ModelConfig, train_cfg: TrainConfig, dataset: DatasetLike
) -> dict[str, Any]:
    """What names a run in a record before it has results (a failed run has only this)."""
    dataset = Dataset.resolve(dataset)
    return {
        "key": run_key(model_cfg, train_cfg, dataset),
        "name": run_name(model_cfg),
        "dataset": dataset.name,
        "seed": train_cfg.seed,
        "model_config": json.dumps(model_cfg.to_dict(), sort_keys=True),
        "train_config": json.dumps(train_cfg.to_dict(), sort_keys=True),
    }


def run_experiment(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    dataset: DatasetLike = "rotten_tomatoes",
    progress: bool = True,
) -> dict[str, Any]:
    """Train one model on one dataset and return its flat record.

    ``dataset``: "rotten_tomatoes", "shakespeare", or your own data: a .csv path or a
    DataFrame with ``text`` and ``label`` columns, a .txt path for a character LM, or
    ``course_lib.data.own.own_data(...)`` for other column names (its ``n_classes`` goes
    into ``model_cfg``).
    Classification records carry ``accuracy`` (test split) and ``val_accuracy``; LM records
    carry ``val_loss`` (mean cross-entropy per character, nats) and ``val_bpc`` (bits).
    The record's ``n_blocks`` counts the distinct blocks (attention+FFN pairs) the plan holds
    (6 for ``none`` and ``attention`` at N=6, 1 for ``all``, M for ``cycle``); it is not
    ``ModelConfig.n_blocks``, whose M (None for plans without M) is in ``n_blocks_cfg``. Both
    names are columns of the shipped results CSVs (``data/results/``), so they stay.
    Training that meets a non-finite loss raises ``course_lib.training.step.TrainingDiverged``.
    """
    dataset = check_run(model_cfg, train_cfg, dataset)  # resolved once, passed down
    train, val, test = dataset.tensors(model_cfg.vocab_size, model_cfg.max_len)
    plan = SharingPlan.from_config(model_cfg)
    seed_everything(train_cfg.seed)
    model = build_model(model_cfg)
    hist = train_model(model, train, train_cfg, eval_ds=val, task=model_cfg.task, progress=progress)
    stub = record_stub(model_cfg, train_cfg, dataset)
    distinct_blocks = len(set(zip(plan.attn_ids, plan.ffn_ids, strict=True)))
    record: dict[str, Any] = {
        "key": stub["key"],
        "name": stub["name"],
        "dataset": stub["dataset"],
        "plan": " ".join(f"{a}/{f}" for a, f in zip(plan.attn_ids, plan.ffn_ids, strict=True)),
        "sharing": model_cfg.sharing,
        "n_layers": model_cfg.n_layers,
        "n_blocks": distinct_blocks,  # the CSV column: distinct blocks, not M (n_blocks_cfg)
        "n_attn": plan.n_attn,
        "n_ffn": plan.n_ffn,
        "unique_params": count_parameters(model),
        "per_use_params": count_parameters_per_use(model),
        "matmul_params": matmul_parameters(model),
    }
    final = hist["eval"][-1]
    if model_cfg.task == "classify":
        record["accuracy"] = evaluate(model, test, amp=train_cfg.amp)["accuracy"]
        record["val_accuracy"] = final["accuracy"]
    else:
        record["val_loss"] = final["loss"]
        record["val_bpc"] = final["loss"] / float(torch.log(torch.tensor(2.0)))
    record["final_train_loss"] = sum(hist["loss"][-10:]) / len(hist["loss"][-10:])
    record.update(
        train_time_s=hist["train_time_s"],
        tokens_per_s=hist["tokens_per_s"],
        peak_mem_mb=hist["peak_mem_mb"],  # torch.cuda.max_memory_allocated; None off CUDA
        device=hist["device"],
        device_name=device_name(hist["device"]),
        torch=torch.__version__,
        seed=train_cfg.seed,
    )
    for k, v in model_cfg.to_dict().items():
        if k != "n_blocks" and k in RESULT_COLUMNS:  # the record's n_blocks is distinct_blocks
            record.setdefault(k, v)
    record["n_blocks_cfg"] = model_cfg.n_blocks  # the M field itself (None for none/all/...)
    for k, v in train_cfg.to_dict().items():
        record["device_requested" if k == "device" else k] = v
    record["model_config"] = stub["model_config"]
    record["train_config"] = stub["train_config"]
    return record
