"""Bad inputs to training, models, datasets, data files and checkpoints (issue "Nothing
silent"): each case raises a clear one-line error naming the field, the file or the step.

Every row of ``CASES`` is (case name, callable taking ``(tmp, env)``, exception class,
text the message must hold), as in ``tests/catalogues/test_bad_inputs.py``. The tests after the
catalogue check results that must be right rather than errors: the step a divergence
names, dropout on attention probabilities, shared storage in checkpoints, file modes.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import hashlib
import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from course_lib import ModelConfig, TrainConfig, build_model
from course_lib.data import shipped as course_data
from course_lib.data import synthetic as tasks
from course_lib.files import atomic_write, temp_files
from course_lib.nn import looped, vision
from course_lib.nn.layers import MultiHeadSelfAttention
from course_lib.nn.sharing import SharingPlan
from course_lib.runtime import DATA_DIR_ENV
from course_lib.training import distributed, loops, train
from course_lib.training.checkpoints import save_checkpoint
from course_lib.training.step import TrainingDiverged, _divergence
from course_lib.training.train import evaluate, lr_at, train_model

TINY = ModelConfig.preset("tiny", n_layers=2)  # vocab 1000, max_len 64, 2 classes
TINY_LM = TINY.replace(task="lm")
FAST = TrainConfig(steps=30, batch_size=16, warmup_steps=2, device="cpu")
RT = course_data.RT_FILE
SH = course_data.SHAKESPEARE_FILE


# ------------------------------------------------------------------ helpers


def toy(n: int = 64, t: int = 8, labels: torch.Tensor | None = None) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 1000, (n, t), generator=g)
    y = torch.randint(0, 2, (n,), generator=g) if labels is None else labels
    return TensorDataset(x, y)


def toy_lm(n: int = 32, t: int = 8) -> TensorDataset:
    x = torch.randint(1, 1000, (n, t + 1), generator=torch.Generator().manual_seed(0))
    return TensorDataset(x[:, :-1], x[:, 1:])


def fit(ds: Any, cfg: TrainConfig = FAST, model_cfg: ModelConfig = TINY, **kw) -> dict:
    torch.manual_seed(0)
    task = kw.pop("task", model_cfg.task)
    return train_model(build_model(model_cfg), ds, cfg, task=task, progress=False, **kw)


def diverge(**changes) -> dict:
    return fit(toy(), FAST.replace(**changes))


def with_nan_weight(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        model.head.weight[0, 0] = float("nan")
    return model


def digits(nan: bool = False) -> TensorDataset:
    train_ds, _ = vision.load_digits_tensors()
    x, y = train_ds.tensors[0][:64].clone(), train_ds.tensors[1][:64]
    if nan:
        x[5, 3, 3] = float("nan")
    return TensorDataset(x, y)


def vit_fit(ds: TensorDataset) -> dict:
    model = vision.build_vit(vision.vit_config("all", n_layers=2))
    return train_model(model, ds, FAST.replace(steps=3), progress=False)


def copied_data(tmp: Path, env: pytest.MonkeyPatch, edit: dict | None = None, sums=True) -> Path:
    """The shipped data copied to ``tmp``, COURSE_DATA_DIR pointing there; ``edit`` maps a
    file name to new bytes; ``sums``: keep the shipped SHA256SUMS, or rewrite it to match."""
    folder = tmp / "data"
    folder.mkdir()
    for name in (RT, SH, course_data.SUMS_FILE):
        shutil.copy(course_data.DATA_DIR / name, folder / name)
    for name, content in (edit or {}).items():
        (folder / name).write_bytes(content)
    if not sums:
        lines = [f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}" for n in (RT, SH)]
        (folder / course_data.SUMS_FILE).write_text("\n".join(lines) + "\n")
    env.setenv(DATA_DIR_ENV, str(folder))
    return folder


def rt_csv(rows: list[str]) -> bytes:
    return gzip.compress(("text,label,split\n" + "\n".join(rows) + "\n").encode(), mtime=0)


def flipped_rt() -> bytes:
    """The shipped Rotten Tomatoes file with every label flipped (a valid file otherwise)."""
    text = gzip.decompress((course_data.DATA_DIR / RT).read_bytes()).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["text", "label", "split"], lineterminator="\n")
    writer.writeheader()
    writer.writerows({**r, "label": str(1 - int(r["label"]))} for r in rows)
    return gzip.compress(out.getvalue().encode(), mtime=0)


def rt_loaded_from(tmp: Path, env: pytest.MonkeyPatch, rows: list[str]):
    copied_data(tmp, env, {RT: rt_csv(rows)}, sums=False)
    return course_data.load_rotten_tomatoes()


ALL_SPLITS = ["good film,1,train", "bad film,0,val", "fine film,1,test"]


def no_training(env: pytest.MonkeyPatch) -> None:
    """Any training step now fails loudly: the case must stop before the first one."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the check")

    env.setattr(train, "train_step", refuse)


def ddp_args(tmp: Path, *argv: str) -> argparse.Namespace:
    return distributed.parse_args(["--out", str(tmp), "--steps", "3", *argv])


def ddp_reference(tmp: Path, lr: str) -> dict:
    args = ddp_args(tmp, "--lr", lr, "--sharing", "all", "--n-layers", "2")
    return distributed.train(distributed.model_config(args), args, world=1, ddp=False)


def small_looped() -> looped.LoopedTransformer:
    torch.manual_seed(0)
    return looped.LoopedTransformer(
        looped.LoopedConfig(d_model=16, n_heads=2, d_ff=32, max_steps=2, max_len=16)
    )


def full_disk(env: pytest.MonkeyPatch) -> None:
    env.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 1024))


# ------------------------------------------------------------------ the catalogue

CASES: list[tuple[str, Callable[[Path, pytest.MonkeyPatch], Any], type, str]] = [
    # divergence: training stops at the first non-finite loss or gradient
    ("diverge_adamw_lr_1e3", lambda t, e: diverge(lr=1e3), TrainingDiverged, "lr="),
    ("diverge_adam_lr_1e5", lambda t, e: diverge(lr=1e5, optimizer="adam"), TrainingDiverged, "training diverged at step"),
    ("diverge_sgd_no_clip", lambda t, e: diverge(lr=1e4, optimizer="sgd", grad_clip=None), TrainingDiverged, "try a smaller lr"),
    ("diverge_lr_overflows_optimizer", lambda t, e: diverge(lr=1e38), TrainingDiverged, "overflowed"),
    ("diverge_lr_1e300", lambda t, e: diverge(lr=1e300), TrainingDiverged, "peak lr=1e+300"),
    ("diverge_lm_lr_1e3", lambda t, e: fit(toy_lm(), FAST.replace(lr=1e3), TINY_LM), TrainingDiverged, "lr="),
    ("diverge_nan_weight_step_0", lambda t, e: train_model(with_nan_weight(build_model(TINY)), toy(), FAST, progress=False), TrainingDiverged, "at step 0"),
    ("diverge_looped_lr_overflow", lambda t, e: loops.train_looped(small_looped(), "copy", steps=5, lr=1e38), TrainingDiverged, "lr=1e+38"),
    ("diverge_looped_nan_weight", lambda t, e: loops.train_looped(with_looped_nan(small_looped()), "copy", steps=5), TrainingDiverged, "at step 0"),
    ("diverge_ddp_reference_lr_overflow", lambda t, e: ddp_reference(t, "1e38"), TrainingDiverged, "lr=1e+38"),
    # datasets handed to train_model and evaluate
    ("train_empty_dataset", lambda t, e: fit(TensorDataset(torch.zeros(0, 8, dtype=torch.long), torch.zeros(0, dtype=torch.long))), ValueError, "train_ds is empty"),
    ("train_empty_list", lambda t, e: fit([]), ValueError, "train_ds is empty"),
    ("evaluate_empty_dataset", lambda t, e: evaluate(build_model(TINY), toy(n=0)), ValueError, "ds is empty"),
    ("evaluate_batch_size_negative", lambda t, e: evaluate(build_model(TINY), toy(), batch_size=-1), ValueError, "batch_size=-1"),
    ("evaluate_batch_size_zero", lambda t, e: evaluate(build_model(TINY), toy(), batch_size=0), ValueError, "batch_size=0"),
    ("evaluate_batch_size_float", lambda t, e: evaluate(build_model(TINY), toy(), batch_size=2.5), ValueError, "batch_size=2.5"),
    ("evaluate_unknown_task", lambda t, e: evaluate(build_model(TINY), toy(), task="regress"), ValueError, "task='regress'"),
    ("evaluate_label_out_of_range", lambda t, e: evaluate(build_model(TINY), toy(labels=torch.full((64,), 2))), ValueError, "n_classes=2"),
    ("train_tuple_of_tensors", lambda t, e: fit(toy().tensors), ValueError, "train_ds=tuple"),
    ("train_list_of_tensors", lambda t, e: fit(list(toy().tensors)), ValueError, "train_ds=list"),
    ("evaluate_tuple_of_tensors", lambda t, e: evaluate(build_model(TINY), toy().tensors), ValueError, "ds=tuple"),
    ("train_ragged_items", lambda t, e: fit([(torch.ones(8, dtype=torch.long), 0), (torch.ones(5, dtype=torch.long), 1)]), ValueError, "item 1 has input shape (5,)"),
    ("train_item_not_a_pair", lambda t, e: fit([torch.ones(8, dtype=torch.long)]), ValueError, "not an (input, target) pair"),
    ("train_one_tensor_dataset", lambda t, e: fit(TensorDataset(torch.ones(4, 8, dtype=torch.long))), ValueError, "train_ds holds 1 tensor"),
    ("train_label_2_of_2_classes", lambda t, e: fit(toy(labels=torch.full((64,), 2))), ValueError, "n_classes=2"),
    ("train_label_negative", lambda t, e: fit(toy(labels=torch.full((64,), -1))), ValueError, "hold -1"),
    ("train_labels_float", lambda t, e: fit(toy(labels=torch.zeros(64))), ValueError, "torch.float32"),
    ("train_labels_bool", lambda t, e: fit(toy(labels=torch.zeros(64, dtype=torch.bool))), ValueError, "torch.bool"),
    ("train_labels_two_dims", lambda t, e: fit(toy(labels=torch.zeros(64, 1, dtype=torch.long))), ValueError, "(64, 1)"),
    ("train_inputs_targets_differ_in_count", lambda t, e: fit(Unpaired()), ValueError, "4 inputs but 3 targets"),
    ("train_token_id_beyond_vocab", lambda t, e: fit(TensorDataset(torch.full((8, 4), 1000), torch.zeros(8, dtype=torch.long))), ValueError, "vocab_size=1000"),
    ("train_token_id_negative", lambda t, e: fit(TensorDataset(torch.full((8, 4), -3), torch.zeros(8, dtype=torch.long))), ValueError, "hold -3"),
    ("train_sequences_beyond_max_len", lambda t, e: fit(toy(t=65)), ValueError, "max_len=64"),
    ("train_eval_ds_label_out_of_range", lambda t, e: fit(toy(), eval_ds=toy(labels=torch.full((64,), 5))), ValueError, "eval_ds targets hold 5"),
    ("train_lm_targets_of_other_shape", lambda t, e: fit(TensorDataset(toy_lm().tensors[0], toy_lm().tensors[1][:, :4]), model_cfg=TINY_LM), ValueError, "one target per input token"),
    ("train_lm_target_beyond_vocab", lambda t, e: fit(TensorDataset(toy_lm().tensors[0], torch.full((32, 8), 1000)), model_cfg=TINY_LM), ValueError, "vocab_size=1000"),
    ("train_cfg_as_dict", lambda t, e: train_model(build_model(TINY), toy(), FAST.to_dict()), ValueError, "train_cfg=dict"),
    ("vit_nan_pixel_refused_at_train", lambda t, e: vit_fit(digits(nan=True)), ValueError, "first in item 5"),
    ("vit_inf_pixel_refused_at_train", lambda t, e: vit_fit(TensorDataset(digits().tensors[0] * float("inf"), digits().tensors[1])), ValueError, "non-finite"),
    ("vit_nan_pixel_refused_at_evaluate", lambda t, e: evaluate(vision.build_vit(vision.vit_config()), digits(nan=True)), ValueError, "ds inputs hold 1 non-finite"),
    ("digits_nan_pixel_refused_at_load", lambda t, e: nan_digits_loaded(e), ValueError, "non-finite pixel"),
    ("vit_label_10_of_10_classes", lambda t, e: vit_fit(TensorDataset(digits().tensors[0], torch.full((64,), 10))), ValueError, "n_classes=10"),
    ("vit_images_of_wrong_size", lambda t, e: vision.build_vit(vision.vit_config())(torch.zeros(2, 6, 6)), ValueError, "(batch, 8, 8)"),
    ("vit_integer_images", lambda t, e: vision.build_vit(vision.vit_config())(torch.zeros(2, 8, 8, dtype=torch.long)), ValueError, "torch.int64"),
    ("vit_config_as_dict", lambda t, e: vision.build_vit(vision.vit_config().to_dict()), ValueError, "cfg=dict"),
    # the model's forward pass: cheap checks on the ids
    ("forward_token_id_beyond_vocab", lambda t, e: build_model(TINY)(torch.full((2, 4), 1000)), ValueError, "vocab_size=1000"),
    ("forward_token_id_negative", lambda t, e: build_model(TINY)(torch.full((2, 4), -1)), ValueError, "token id -1"),
    ("forward_longer_than_max_len", lambda t, e: build_model(TINY)(torch.ones(2, 65, dtype=torch.long)), ValueError, "max_len=64"),
    ("forward_lm_longer_than_max_len", lambda t, e: build_model(TINY_LM)(torch.ones(1, 100, dtype=torch.long)), ValueError, "T=100"),
    ("forward_float_ids", lambda t, e: build_model(TINY)(torch.ones(2, 4)), ValueError, "torch.float32"),
    ("forward_one_dim_ids", lambda t, e: build_model(TINY)(torch.ones(4, dtype=torch.long)), ValueError, "(batch, T)"),
    ("build_model_from_dict", lambda t, e: build_model(TINY.to_dict()), ValueError, "ModelConfig(**d)"),
    ("build_model_from_none", lambda t, e: build_model(None), ValueError, "cfg=NoneType"),
    # configs that used to be accepted and then ignored or half applied
    ("model_n_blocks_with_none", lambda t, e: ModelConfig(sharing="none", n_blocks=3), ValueError, "only 'sequence', 'cycle' and 'cycle_rev'"),
    ("model_n_blocks_with_all", lambda t, e: ModelConfig(sharing="all", n_blocks=3), ValueError, "sharing='all'"),
    ("model_n_blocks_with_attention", lambda t, e: ModelConfig(sharing="attention", n_blocks=2), ValueError, "n_blocks=2"),
    ("model_n_blocks_with_ffn", lambda t, e: ModelConfig(sharing="ffn", n_blocks=2), ValueError, "sharing='ffn'"),
    ("model_replace_cycle_to_all_keeps_m", lambda t, e: TINY.replace(sharing="cycle", n_blocks=2).replace(sharing="all"), ValueError, "n_blocks=2"),
    ("plan_make_all_with_m", lambda t, e: SharingPlan.make("all", 4, 2), ValueError, "n_blocks=2"),
    ("train_warmup_longer_than_steps", lambda t, e: TrainConfig(steps=10), ValueError, "warmup_steps=20 is not allowed: it must be <= steps=10"),
    ("train_replace_steps_below_warmup", lambda t, e: FAST.replace(steps=1), ValueError, "steps=1"),
    ("train_seed_beyond_numpy", lambda t, e: TrainConfig(seed=2**32), ValueError, "seed=4294967296"),
    ("train_seed_negative", lambda t, e: TrainConfig(seed=-1), ValueError, "seed=-1"),
    ("train_seed_float", lambda t, e: TrainConfig(seed=1.5), ValueError, "seed=1.5"),
    ("tasks_seed_beyond_numpy", lambda t, e: tasks.order_task(10, seed=2**40), ValueError, "seed=1099511627776"),
    ("tasks_steps_not_a_tuple", lambda t, e: tasks.arithmetic_sequences(10, steps=3), ValueError, "steps=3"),
    ("tasks_lm_dataset_of_floats", lambda t, e: tasks.lm_dataset(torch.zeros(4, 6)), ValueError, "seqs=Tensor"),
    ("looped_seed_beyond_numpy", lambda t, e: loops.train_looped(small_looped(), "copy", steps=1, seed=2**33), ValueError, "seed=8589934592"),
    ("looped_lengths_not_a_pair", lambda t, e: loops.train_looped(small_looped(), "copy", lengths=3), ValueError, "lengths=3"),
    ("looped_lengths_reversed", lambda t, e: loops.train_looped(small_looped(), "copy", lengths=(4, 2)), ValueError, "lengths=(4, 2)"),
    ("looped_lr_zero", lambda t, e: loops.train_looped(small_looped(), "copy", lr=0), ValueError, "lr=0"),
    ("looped_steps_zero", lambda t, e: loops.train_looped(small_looped(), "copy", steps=0), ValueError, "steps=0"),
    ("looped_input_beyond_max_len", lambda t, e: small_looped()(torch.ones(1, 17, dtype=torch.long)), ValueError, "max_len=16"),
    ("looped_comparator_beyond_max_len", lambda t, e: looped.UnsharedEncoder(14, 16, 2, 32, 2, max_len=8)(torch.ones(1, 9, dtype=torch.long)), ValueError, "max_len=8"),
    ("looped_batch_negative_seed", lambda t, e: looped.algorithmic_batch("copy", 2, 3, seed=-1), ValueError, "seed=-1"),
    ("ddp_lr_zero", lambda t, e: dist_error(t, "--lr", "0"), ValueError, "--lr=0.0 is not allowed"),
    ("ddp_lr_infinite", lambda t, e: dist_error(t, "--lr", "inf"), ValueError, "--lr=inf is not allowed"),
    ("ddp_seed_negative", lambda t, e: dist_error(t, "--seed", "-1"), ValueError, "--seed=-1 is not allowed"),
    # data files: verified against SHA256SUMS, every split present, labels 0/1
    ("data_labels_flipped_refused", lambda t, e: (copied_data(t, e, {RT: flipped_rt()}), course_data.load_rotten_tomatoes())[1], ValueError, RT),
    ("data_tampered_names_checksum", lambda t, e: (copied_data(t, e, {RT: flipped_rt()}), course_data.classification_tensors())[1], ValueError, "does not match its checksum"),
    ("data_shakespeare_tampered", lambda t, e: (copied_data(t, e, {SH: gzip.compress(b"To be", mtime=0)}), course_data.load_shakespeare())[1], ValueError, SH),
    ("data_shakespeare_tampered_lm", lambda t, e: (copied_data(t, e, {SH: gzip.compress(b"To be", mtime=0)}), course_data.char_lm_tensors())[1], ValueError, "SHA256SUMS"),
    ("data_no_checksum_anywhere", lambda t, e: no_checksum(t, e), ValueError, "has no checksum"),
    ("data_label_2_in_shipped_format", lambda t, e: rt_loaded_from(t, e, [*ALL_SPLITS, "odd film,2,train"]), ValueError, "label 2"),
    ("data_label_not_a_number", lambda t, e: rt_loaded_from(t, e, [*ALL_SPLITS, "odd film,yes,train"]), ValueError, RT),
    ("data_no_test_split", lambda t, e: rt_loaded_from(t, e, ALL_SPLITS[:2]), ValueError, "['test']"),
    ("data_no_val_split", lambda t, e: rt_loaded_from(t, e, [ALL_SPLITS[0], ALL_SPLITS[2]]), ValueError, "['val']"),
    ("data_header_only", lambda t, e: rt_loaded_from(t, e, []), ValueError, "['train', 'val', 'test']"),
    ("data_unknown_split", lambda t, e: rt_loaded_from(t, e, [*ALL_SPLITS, "x,1,dev"]), ValueError, "split 'dev'"),
    # checkpoints: refused before anything is written
    ("checkpoint_cfg_of_another_plan", lambda t, e: save_checkpoint(t / "m.pt", build_model(TINY), TINY.replace(sharing="all")), ValueError, "'sharing': ('all', 'none')"),
    ("checkpoint_cfg_of_another_size", lambda t, e: save_checkpoint(t / "m.pt", build_model(TINY), TINY.replace(d_ff=128)), ValueError, "'d_ff'"),
    ("checkpoint_model_without_cfg", lambda t, e: save_checkpoint(t / "m.pt", nn.Linear(3, 2), TINY), ValueError, "could never be loaded"),
    ("checkpoint_of_a_vit", lambda t, e: save_checkpoint(t / "m.pt", vision.build_vit(vision.vit_config()), vision.vit_config()), ValueError, "could never be loaded"),
    ("checkpoint_unshared_weights_as_all", lambda t, e: save_checkpoint(t / "m.pt", cfg_swapped(TINY, "all"), TINY.replace(sharing="all")), ValueError, "cfg shares"),
    ("checkpoint_path_in_proc", lambda t, e: save_checkpoint("/proc/course/m.pt", build_model(TINY), TINY), ValueError, "/proc/course/m.pt"),
    ("checkpoint_name_too_long", lambda t, e: save_checkpoint(t / ("m" * 300 + ".pt"), build_model(TINY), TINY), ValueError, "too long"),
    ("checkpoint_disk_full", lambda t, e: (full_disk(e), save_checkpoint(t / "m.pt", build_model(TINY), TINY))[1], ValueError, "MiB are free"),
    ("train_checkpoint_unwritable_before_training", lambda t, e: (no_training(e), fit(toy(), checkpoint="/proc/course/m.pt"))[1], ValueError, "checkpoint='/proc/course/m.pt'"),
    ("train_checkpoint_disk_full_before_training", lambda t, e: (no_training(e), full_disk(e), fit(toy(), checkpoint=t / "m.pt"))[1], ValueError, "MiB"),
    ("train_checkpoint_model_without_cfg", lambda t, e: (no_training(e), train_model(nn.Sequential(nn.Embedding(1000, 4)), toy(), FAST, checkpoint=t / "m.pt"))[1], ValueError, "model.cfg=NoneType"),
    ("train_checkpoint_onto_a_folder", lambda t, e: (no_training(e), fit(toy(), checkpoint=t))[1], ValueError, "is a folder"),
    ("atomic_write_of_a_number", lambda t, e: atomic_write(t / "x.txt", 3), TypeError, "data=int"),
]  # fmt: skip


def with_looped_nan(model: looped.LoopedTransformer) -> looped.LoopedTransformer:
    with torch.no_grad():
        model.io.head.weight[0, 0] = float("nan")
    return model


def nan_digits_loaded(env: pytest.MonkeyPatch):
    import sklearn.datasets

    real = sklearn.datasets.load_digits

    def poisoned(*args, **kwargs):
        bunch = real(*args, **kwargs)
        bunch.images = bunch.images.copy()
        bunch.images[7, 2, 2] = float("nan")
        return bunch

    env.setattr(sklearn.datasets, "load_digits", poisoned)
    vision.load_digits_tensors.cache_clear()
    try:
        return vision.load_digits_tensors(0.3)
    finally:
        vision.load_digits_tensors.cache_clear()


def no_checksum(tmp: Path, env: pytest.MonkeyPatch):
    folder = copied_data(tmp, env)
    (folder / course_data.SUMS_FILE).unlink()
    env.setattr(course_data, "DATA_DIR", tmp / "nowhere")
    return course_data.load_shakespeare()


def dist_error(tmp: Path, *argv: str):
    """The ``error:`` line the DDP command line prints, raised as a ValueError."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            ddp_args(tmp, *argv)
        except SystemExit:
            raise ValueError(stderr.getvalue().strip().splitlines()[-1]) from None


class Unpaired:
    """A dataset whose tensors do not pair up (TensorDataset itself would refuse them)."""

    tensors = (torch.ones(4, 8, dtype=torch.long), torch.zeros(3, dtype=torch.long))

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int):
        return self.tensors[0][i], self.tensors[1][i]


def cfg_swapped(cfg: ModelConfig, sharing: str) -> nn.Module:
    """A model built from ``cfg`` that claims another sharing plan (its cfg attribute)."""
    model = build_model(cfg)
    model.cfg = cfg.replace(sharing=sharing)
    return model


@pytest.mark.parametrize("fn, expected, names", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_a_clear_message(fn, expected, names, tmp_path, monkeypatch):
    with pytest.raises(expected) as err:
        fn(tmp_path, monkeypatch)
    message = str(err.value)
    assert names in message, message
    assert "\n" not in message.strip(), f"one line, please: {message!r}"


def test_the_catalogue_covers_every_class():
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names)) >= 90
    for prefix in ("diverge_", "train_", "evaluate_", "vit_", "forward_", "model_", "data_",
                   "checkpoint_", "looped_", "tasks_"):  # fmt: skip
        assert sum(n.startswith(prefix) for n in names) >= 2, prefix


# ------------------------------------------------------------------ results that must be right


class NanFrom(nn.Module):
    """Wraps a model; from the ``k``-th forward call in training mode on, logits are NaN."""

    def __init__(self, model: nn.Module, k: int):
        super().__init__()
        self.model, self.k, self.calls, self.cfg = model, k, 0, model.cfg

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out = self.model(ids)
        if self.training:
            self.calls += 1
            if self.calls > self.k:
                out = out * float("nan")
        return out


def test_divergence_names_the_first_bad_step_and_keeps_finite_weights():
    torch.manual_seed(0)
    model = NanFrom(build_model(TINY), k=4)
    with pytest.raises(TrainingDiverged) as err:
        train_model(model, toy(), FAST, progress=False)
    assert err.value.step == 4 and err.value.lr == lr_at(4, FAST) and err.value.peak_lr == FAST.lr
    assert "the loss is nan" in str(err.value)
    # on the CPU the check comes before the optimizer step: no NaN reached the weights
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_divergence_window_names_its_first_bad_step():
    """On CUDA the losses are read every CUDA_CHECK_EVERY steps; the first bad one is named."""
    losses = [torch.tensor(1.0)] * 20 + [torch.tensor(float("nan"))] * 3
    norms = [torch.tensor(0.5)] * 18 + [torch.tensor(float("inf"))] * 5
    lrs = [0.1 * i for i in range(23)]
    assert _divergence(losses[:16], norms[:16], 0, lrs, 2.3) is None
    err = _divergence(losses, norms, 16, lrs, 2.3)
    assert err.step == 18 and err.lr == lrs[18] and "gradient norm is inf" in str(err)


@pytest.mark.parametrize("causal", [False, True])
def test_manual_attention_drops_probabilities_like_sdpa(causal):
    torch.manual_seed(0)
    manual = MultiHeadSelfAttention(16, 4, dropout=0.3, impl="manual").train()
    sdpa = MultiHeadSelfAttention(16, 4, dropout=0.3, impl="sdpa").train()
    sdpa.load_state_dict(manual.state_dict())
    x = torch.randn(2, 6, 16)
    mask = torch.ones(6, 6, dtype=torch.bool).tril() if causal else None
    outs = []
    for layer in (manual, sdpa):
        torch.manual_seed(1)  # the same dropout mask for both
        outs.append(layer(x, mask))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(outs[0], manual.eval()(x, mask))  # dropout was applied


def test_checkpoint_stores_a_shared_tensor_once_even_when_cpu_copies(tmp_path, monkeypatch):
    """A fake device: every ``storage.cpu()`` makes a copy, as it does on CUDA. The saved
    file still holds one storage per shared tensor, not one per layer."""
    real_cpu = torch.UntypedStorage.cpu
    calls = []

    def copying_cpu(self):
        calls.append(self.data_ptr())
        return real_cpu(self).clone()  # a new storage, like a CUDA -> CPU copy

    monkeypatch.setattr(torch.UntypedStorage, "cpu", copying_cpu)
    cfg = TINY.replace(sharing="all", n_layers=4)
    model = build_model(cfg)
    path = save_checkpoint(tmp_path / "all.pt", model, cfg)
    monkeypatch.undo()
    unique = {t.untyped_storage().data_ptr() for t in model.state_dict().values()}
    assert len(calls) == len(unique)  # one copy per storage, not one per name
    state = torch.load(path, weights_only=True)["state_dict"]
    a = state["stack.layers.0.attn.fn.q_proj.weight"]
    b = state["stack.layers.3.attn.fn.q_proj.weight"]
    assert a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    assert len({t.untyped_storage().data_ptr() for t in state.values()}) == len(unique)


def test_checkpoint_mode_is_that_of_a_plain_file(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "m.pt", build_model(TINY), TINY)
        text = atomic_write(tmp_path / "r.csv", "key\n1\n")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644 == text.stat().st_mode & 0o777


def test_refused_checkpoint_writes_nothing(tmp_path):
    with pytest.raises(ValueError):
        save_checkpoint(tmp_path / "m.pt", build_model(TINY), TINY.replace(sharing="all"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("crash", [OSError("disk full"), KeyboardInterrupt()], ids=repr)
def test_atomic_write_failure_keeps_the_old_file_and_no_temp(tmp_path, crash):
    path = atomic_write(tmp_path / "r.csv", "old\n")

    def half_then_crash(tmp: str) -> None:
        Path(tmp).write_text("ne")
        raise crash

    with pytest.raises(type(crash)):
        atomic_write(path, half_then_crash)
    assert path.read_text() == "old\n" and temp_files(path) == []
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_temp_files_lists_what_a_kill_left(tmp_path):
    path = tmp_path / "r.csv"
    left = tmp_path / "r.csv.k1ll3d.tmp"
    left.write_text("half")
    (tmp_path / "other.csv.x.tmp").write_text("not ours")
    assert temp_files(path) == [left]


def test_data_folder_change_mid_session_returns_the_new_data(tmp_path, monkeypatch):
    shipped = course_data.load_rotten_tomatoes()  # cached now
    copied_data(tmp_path, monkeypatch, {RT: rt_csv(ALL_SPLITS)}, sums=False)
    assert course_data.load_rotten_tomatoes()["test"] == [("fine film", 1)]
    monkeypatch.delenv(DATA_DIR_ENV)
    assert course_data.load_rotten_tomatoes() == shipped


def test_experiment_tensors_follow_a_data_folder_change(tmp_path, monkeypatch):
    """run_experiment's tensor cache is keyed by the data file too, not by the sizes alone."""
    from course_lib.data.dataset import Dataset

    rt = Dataset.resolve("rotten_tomatoes")
    shipped_train = rt.tensors(200, 8)[0]  # cached now
    copied_data(tmp_path, monkeypatch, {RT: rt_csv(ALL_SPLITS)}, sums=False)
    assert len(rt.tensors(200, 8)[0]) < len(shipped_train)
    monkeypatch.delenv(DATA_DIR_ENV)
    assert rt.tensors(200, 8)[0] is shipped_train


def test_tampered_copy_is_refused_and_the_restored_copy_loads(tmp_path, monkeypatch):
    folder = copied_data(tmp_path, monkeypatch, {RT: flipped_rt()})
    with pytest.raises(ValueError, match="rotten_tomatoes.csv.gz does not match its checksum"):
        course_data.load_rotten_tomatoes()
    shutil.copy(course_data.DATA_DIR / RT, folder / RT)  # restored: read again, not cached
    assert len(course_data.load_rotten_tomatoes()["train"]) == 10201
