"""A catalogue of bad inputs: each gives a clear message naming the field or the file.

Every row of ``CASES`` is (case name, callable, what must happen, what the message names).
What must happen is one of:

- an exception class: calling raises it, and its message names the field or the file;
- an exit status: the callable runs ``python -m course_lib ...`` in a subprocess, which
  must exit with it, print one ``error:`` line naming the option, and no traceback;
- ``SHOWN``: the callable returns the text a widget shows the learner (no exception).

Each callable takes ``(tmp, env)``: a fresh folder and a ``pytest.MonkeyPatch``.
The tests at the end check that checkpoints and results CSVs are written atomically: a
crash in the middle of a write leaves the previous file intact and no temporary file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from course_lib import ModelConfig, TrainConfig, build_model
from course_lib.data import shipped as course_data
from course_lib.experiments.results import append_record
from course_lib.experiments.sweep import run_sweep
from course_lib.nn.plan_summary import explore
from course_lib.runtime import DATA_DIR_ENV
from course_lib.training.checkpoints import load_checkpoint, save_checkpoint
from course_lib.views.explorer import SharingExplorer
from course_lib.views.training_panel import TrainingPanel

ROOT = Path(__file__).resolve().parents[2]
SHOWN = "shown to the learner"
TINY = ModelConfig.preset("tiny", n_layers=2)


# ------------------------------------------------------------------ helpers


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m course_lib ARGS`` from ``cwd`` with the repository importable."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "course_lib", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def checkpoint(tmp: Path, cfg: ModelConfig = TINY, name: str = "model.pt") -> Path:
    torch.manual_seed(0)
    return save_checkpoint(tmp / name, build_model(cfg), cfg)


def edited_checkpoint(tmp: Path, name: str, edit: Callable[[dict], Any]) -> Path:
    """A real checkpoint whose payload ``edit`` changed in place, saved as ``name``."""
    path = checkpoint(tmp)
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, tmp / name)
    return tmp / name


def replace_tensor(payload: dict) -> None:
    payload["state_dict"]["embed.tok_emb.weight"] = torch.zeros(3, 3)


def drop_tensor(payload: dict) -> None:
    del payload["state_dict"]["head.weight"]


def relabel_as_all(payload: dict) -> None:  # weights of sharing="none", config of "all"
    payload["config"] = TINY.replace(sharing="all").to_dict()


def data_folder(
    tmp: Path, env: pytest.MonkeyPatch, files: dict[str, bytes], sums: bool = False
) -> Path:
    """A data folder holding ``files``, with COURSE_DATA_DIR pointing at it; with ``sums``,
    a SHA256SUMS that lists them, so that the loaders get past the checksum to the format."""
    folder = tmp / "course_data"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    if sums:
        lines = [f"{hashlib.sha256(c).hexdigest()}  {n}\n" for n, c in files.items()]
        (folder / course_data.SUMS_FILE).write_text("".join(lines))
    env.setenv(DATA_DIR_ENV, str(folder))
    return folder


def half_of(path: Path) -> bytes:
    content = path.read_bytes()
    return content[: len(content) // 2]


def explorer_message(**settings: Any) -> str:
    w = SharingExplorer()
    w.set(**settings)
    assert w.count_label.value == "—", "a bad setting must not show a count"
    return w.message.value


def panel_status(plans: dict | None = None, dataset: str = "rotten_tomatoes") -> str:
    def refuse(*args, **kwargs):
        raise AssertionError("nothing may train with a bad plan")

    model_cfg, train_cfg = TINY, TrainConfig(steps=1, warmup_steps=0)
    runner = None if plans is None else refuse  # None: the real run_experiment
    selected = ("none", "all") if plans is None else tuple(plans)
    panel = TrainingPanel(model_cfg, train_cfg, dataset, plans, selected, runner=runner)
    panel.train()
    assert panel.results.empty
    return panel.status.value


RT_GZ = course_data.DATA_DIR / course_data.RT_FILE
SHAKESPEARE_GZ = course_data.DATA_DIR / course_data.SHAKESPEARE_FILE

# ------------------------------------------------------------------ the catalogue

CASES: list[tuple[str, Callable[[Path, pytest.MonkeyPatch], Any], Any, str]] = [
    # configs: ModelConfig and TrainConfig
    ("model_unknown_sharing", lambda t, e: ModelConfig(sharing="albert"), ValueError, "sharing='albert'"),
    ("model_more_blocks_than_layers", lambda t, e: ModelConfig(sharing="cycle", n_layers=4, n_blocks=6), ValueError, "n_blocks=6"),
    ("model_heads_do_not_divide_width", lambda t, e: ModelConfig(d_model=250, n_heads=4), ValueError, "d_model=250"),
    ("model_tied_classifier", lambda t, e: ModelConfig(tie_embeddings=True), ValueError, "tie_embeddings=True"),
    ("model_replace_unknown_field", lambda t, e: TINY.replace(n_blockz=2), ValueError, "n_blockz=2"),
    ("model_from_dict_unknown_field", lambda t, e: ModelConfig.from_dict({"depth": 12}), ValueError, "['depth']"),
    ("model_unknown_preset", lambda t, e: ModelConfig.preset("huge"), ValueError, "preset='huge'"),
    ("train_lr_nan", lambda t, e: TrainConfig(lr=float("nan")), ValueError, "lr=nan"),
    ("train_lr_infinite", lambda t, e: TrainConfig(lr=float("inf")), ValueError, "lr=inf"),
    ("train_grad_clip_nan", lambda t, e: TrainConfig(grad_clip=float("nan")), ValueError, "grad_clip=nan"),
    ("train_unknown_optimizer", lambda t, e: TrainConfig(optimizer="lion"), ValueError, "optimizer='lion'"),
    ("train_replace_unknown_field", lambda t, e: TrainConfig().replace(epochs=3), ValueError, "epochs=3"),
    # widgets: the explorer and the training panel
    ("explore_more_blocks_than_layers", lambda t, e: explore("cycle", n_layers=4, n_blocks=6).error, SHOWN, "n_blocks=6"),
    ("explore_switch_against_cycle", lambda t, e: explore("cycle", n_blocks=3, share_attention=False).error, SHOWN, "share_attention=False"),
    ("explore_switch_against_none", lambda t, e: explore("none", share_ffn=True).error, SHOWN, "share_ffn=True"),
    ("explorer_shows_bad_width", lambda t, e: explorer_message(d_model=250), SHOWN, "d_model=250"),
    ("explorer_shows_tied_classifier", lambda t, e: explorer_message(task="classify", tie_embeddings=True), SHOWN, "tie_embeddings=True"),
    ("explorer_set_unknown_strategy", lambda t, e: SharingExplorer().set(strategy="albert"), ValueError, "strategy='albert'"),
    ("explorer_set_depth_beyond_slider", lambda t, e: SharingExplorer().set(n_layers=30), ValueError, "n_layers=30"),
    ("explorer_set_width_not_a_number", lambda t, e: SharingExplorer().set(d_model="wide"), ValueError, "d_model='wide'"),
    ("explorer_set_unknown_control", lambda t, e: SharingExplorer().set(depth=12), ValueError, "depth=12"),
    ("panel_plan_with_unknown_sharing", lambda t, e: panel_status({"mine": {"sharing": "albert"}}), SHOWN, "sharing='albert'"),
    ("panel_plan_with_unknown_field", lambda t, e: panel_status({"mine": {"n_blockz": 2}}), SHOWN, "n_blockz=2"),
    ("panel_plan_blocks_beyond_depth", lambda t, e: panel_status({"mine": {"sharing": "cycle", "n_blocks": 9}}), SHOWN, "n_blocks=9"),
    ("panel_unknown_dataset", lambda t, e: panel_status(dataset="imdb"), SHOWN, "dataset='imdb'"),
    ("panel_selects_unknown_plan", lambda t, e: TrainingPanel(TINY, TrainConfig(), selected=("best",)), ValueError, "selected=['best']"),
    # the command line, in a subprocess
    ("cli_unknown_preset", lambda t, e: cli("sweep", "--preset", "medium", "--out", "r.csv", cwd=t), 2, "--preset"),
    ("cli_out_not_csv", lambda t, e: cli("sweep", "--preset", "fast", "--out", "r.txt", cwd=t), 2, "--out"),
    ("cli_out_under_a_file", lambda t, e: (t.joinpath("notes").write_text("x"), cli("sweep", "--preset", "fast", "--out", "notes/r.csv", "--limit", "1", cwd=t))[1], 2, "--out"),
    ("cli_out_corrupt_csv", lambda t, e: (t.joinpath("r.csv").write_bytes(b'"open,\x00'), cli("sweep", "--preset", "fast", "--out", "r.csv", "--limit", "1", cwd=t))[1], 2, "--out"),
    ("cli_limit_zero", lambda t, e: cli("sweep", "--preset", "fast", "--out", "r.csv", "--limit", "0", cwd=t), 2, "--limit"),
    ("cli_missing_out", lambda t, e: cli("sweep", "--preset", "fast", cwd=t), 2, "--out"),
    ("cli_missing_command", lambda t, e: cli(cwd=t), 2, "a command is required"),
    ("cli_data_folder_missing", lambda t, e: cli("sweep", "--preset", "fast", "--out", "r.csv", "--dry-run", cwd=t, env={DATA_DIR_ENV: str(t / "nowhere")}), 2, DATA_DIR_ENV),
    # data: COURSE_DATA_DIR and the shipped files
    ("data_dir_env_missing_folder", lambda t, e: (e.setenv(DATA_DIR_ENV, str(t / "nowhere")), course_data.load_rotten_tomatoes()), ValueError, "nowhere"),
    ("data_file_missing", lambda t, e: (data_folder(t, e, {}), course_data.load_rotten_tomatoes()), ValueError, course_data.RT_FILE),
    ("data_file_not_gzip", lambda t, e: (data_folder(t, e, {course_data.RT_FILE: b"text,label\n"}, sums=True), course_data.load_rotten_tomatoes()), ValueError, "is corrupt"),
    ("data_file_truncated", lambda t, e: (data_folder(t, e, {course_data.SHAKESPEARE_FILE: half_of(SHAKESPEARE_GZ)}, sums=True), course_data.load_shakespeare()), ValueError, course_data.SHAKESPEARE_FILE),
    ("data_file_wrong_columns", lambda t, e: (data_folder(t, e, {course_data.RT_FILE: gzip.compress(b"a,b\n1,2\n")}, sums=True), course_data.load_rotten_tomatoes()), ValueError, "rows need text, label (0/1) and split"),
    ("data_file_not_gzip_unlisted", lambda t, e: (data_folder(t, e, {course_data.RT_FILE: b"text,label\n"}), course_data.load_rotten_tomatoes()), ValueError, "does not match its checksum"),
    # checkpoints
    ("checkpoint_missing_file", lambda t, e: load_checkpoint(t / "absent.pt"), ValueError, "absent.pt"),
    ("checkpoint_corrupt_bytes", lambda t, e: (t.joinpath("junk.pt").write_bytes(os.urandom(256)), load_checkpoint(t / "junk.pt"))[1], ValueError, "junk.pt"),
    ("checkpoint_truncated", lambda t, e: (t.joinpath("half.pt").write_bytes(half_of(checkpoint(t))), load_checkpoint(t / "half.pt"))[1], ValueError, "half.pt"),
    ("checkpoint_empty_file", lambda t, e: (t.joinpath("empty.pt").write_bytes(b""), load_checkpoint(t / "empty.pt"))[1], ValueError, "empty.pt"),
    ("checkpoint_text_file", lambda t, e: (t.joinpath("notes.txt").write_text("hello"), load_checkpoint(t / "notes.txt"))[1], ValueError, "notes.txt"),
    ("checkpoint_holds_a_tensor", lambda t, e: (torch.save(torch.zeros(3), t / "tensor.pt"), load_checkpoint(t / "tensor.pt"))[1], ValueError, "tensor.pt"),
    ("checkpoint_plain_state_dict", lambda t, e: (torch.save(build_model(TINY).state_dict(), t / "sd.pt"), load_checkpoint(t / "sd.pt"))[1], ValueError, "sd.pt"),
    ("checkpoint_missing_keys", lambda t, e: load_checkpoint(edited_checkpoint(t, "nokeys.pt", lambda p: p.pop("config"))), ValueError, "nokeys.pt"),
    ("checkpoint_missing_tensor", lambda t, e: load_checkpoint(edited_checkpoint(t, "notensor.pt", drop_tensor)), ValueError, "head.weight"),
    ("checkpoint_wrong_shapes", lambda t, e: load_checkpoint(edited_checkpoint(t, "shape.pt", replace_tensor)), ValueError, "embed.tok_emb.weight"),
    ("checkpoint_newer_version", lambda t, e: load_checkpoint(edited_checkpoint(t, "v99.pt", lambda p: p.update(version=99))), ValueError, "v99.pt"),
    ("checkpoint_invalid_config", lambda t, e: load_checkpoint(edited_checkpoint(t, "cfg.pt", lambda p: p["config"].update(sharing="albert"))), ValueError, "sharing='albert'"),
    ("checkpoint_of_another_plan", lambda t, e: load_checkpoint(checkpoint(t), build_model(TINY.replace(sharing="all"))), ValueError, "'sharing'"),
    ("checkpoint_of_another_size", lambda t, e: load_checkpoint(checkpoint(t), build_model(TINY.replace(d_ff=128))), ValueError, "'d_ff'"),
    ("checkpoint_weights_of_another_plan", lambda t, e: load_checkpoint(edited_checkpoint(t, "relabelled.pt", relabel_as_all)), ValueError, "sharing='all'"),
    ("checkpoint_save_under_a_file", lambda t, e: (t.joinpath("notes").write_text("x"), save_checkpoint(t / "notes" / "m.pt", build_model(TINY), TINY))[1], ValueError, "m.pt"),
    ("checkpoint_save_onto_a_folder", lambda t, e: save_checkpoint(t, build_model(TINY), TINY), ValueError, "is a folder"),
    ("checkpoint_save_without_config", lambda t, e: save_checkpoint(t / "m.pt", build_model(TINY), TINY.to_dict()), ValueError, "cfg=dict"),
    # results CSVs of sweeps
    ("results_csv_corrupt", lambda t, e: (t.joinpath("r.csv").write_bytes(b'"open,\x00'), run_sweep([], t / "r.csv"))[1], ValueError, "r.csv"),
    ("results_csv_not_a_sweep", lambda t, e: (t.joinpath("r.csv").write_text("x\n1\n"), run_sweep([], t / "r.csv"))[1], ValueError, "r.csv"),
    ("results_csv_wrong_suffix", lambda t, e: run_sweep([], t / "r.xlsx"), ValueError, "r.xlsx"),
    ("results_csv_under_a_file", lambda t, e: (t.joinpath("notes").write_text("x"), run_sweep([], t / "notes" / "r.csv"))[1], ValueError, "notes"),
    ("results_run_not_configs", lambda t, e: run_sweep([({"d_model": 64}, TrainConfig(), "rotten_tomatoes")], t / "r.csv"), ValueError, "model_cfg=dict"),
]  # fmt: skip


@pytest.mark.parametrize("fn, expected, names", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_a_clear_message(fn, expected, names, tmp_path, monkeypatch):
    if isinstance(expected, type):  # an exception naming the field or file
        with pytest.raises(expected) as err:
            fn(tmp_path, monkeypatch)
        message = str(err.value)
        assert names in message, message
        assert "\n" not in message.strip(), f"one line, please: {message!r}"
    elif isinstance(expected, int):  # the command line: exit status, one error line
        done = fn(tmp_path, monkeypatch)
        assert done.returncode == expected, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        errors = [line for line in done.stderr.splitlines() if "error:" in line]
        assert len(errors) == 1 and names in errors[0], done.stderr
    else:  # shown in a widget
        shown = fn(tmp_path, monkeypatch)
        assert shown and names in shown, shown


def test_the_catalogue_is_broad():
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names)) >= 25
    for prefix in ("model_", "train_", "explore", "panel_", "cli_", "data_", "checkpoint_"):
        assert sum(n.startswith(prefix) for n in names) >= 2, prefix


def test_data_dir_env_is_honoured(tmp_path, monkeypatch):
    """COURSE_DATA_DIR (set by the Colab cell) is where the loaders read the data, and a
    change of folder in the middle of a session is seen at once (no stale cache)."""
    text = b"To be, or not to be"
    gz = gzip.compress(text, mtime=0)
    sums = f"{hashlib.sha256(gz).hexdigest()}  {course_data.SHAKESPEARE_FILE}\n".encode()
    shipped = course_data.load_shakespeare()  # now cached
    folder = data_folder(
        tmp_path, monkeypatch, {course_data.SHAKESPEARE_FILE: gz, course_data.SUMS_FILE: sums}
    )
    assert course_data.data_dir() == folder
    assert course_data.load_shakespeare() == text.decode()
    monkeypatch.delenv(DATA_DIR_ENV)
    assert course_data.data_dir() == course_data.DATA_DIR
    assert course_data.load_shakespeare() == shipped  # the shipped text again


# ------------------------------------------------------------------ atomic writes


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.mark.parametrize("crash", [OSError("disk full"), KeyboardInterrupt()], ids=repr)
def test_checkpoint_crash_mid_write_keeps_the_old_file(tmp_path, monkeypatch, crash):
    path = checkpoint(tmp_path, name="model.pt")
    before = path.read_bytes()
    real_save = torch.save

    def half_save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        Path(f).write_bytes(Path(f).read_bytes()[:100])  # half written, then the crash
        raise crash

    monkeypatch.setattr(torch, "save", half_save)
    with pytest.raises(type(crash)):
        save_checkpoint(path, build_model(TINY.replace(sharing="all")), TINY.replace(sharing="all"))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_checkpoint(path)[1] == TINY  # still the old, complete checkpoint
    assert leftovers(tmp_path, {"model.pt"}) == []


def test_checkpoint_is_written_under_a_temporary_name_first(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    targets = []
    real_save = torch.save

    def spy(obj, f, *args, **kwargs):
        targets.append(Path(f))
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", spy)
    save_checkpoint(path, build_model(TINY), TINY)
    assert len(targets) == 1 and targets[0] != path and targets[0].parent == tmp_path
    assert leftovers(tmp_path, {"model.pt"}) == []


class CrashingFile:
    """A text file whose write puts down half of the text, then fails."""

    def __init__(self, f, crash: BaseException):
        self.f, self.crash = f, crash

    def write(self, text: str) -> int:
        self.f.write(text[: len(text) // 2])
        self.f.flush()
        raise self.crash

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()
        return False


@pytest.mark.parametrize("crash", [OSError("disk full"), KeyboardInterrupt()], ids=repr)
def test_results_csv_crash_mid_write_keeps_the_old_file(tmp_path, monkeypatch, crash):
    path = tmp_path / "results.csv"
    append_record(path, {"key": "a", "name": "none N4", "accuracy": 0.7})
    before = path.read_text()
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: CrashingFile(real_fdopen(*a, **k), crash))
    with pytest.raises(type(crash)):
        append_record(path, {"key": "b", "name": "all N4", "accuracy": 0.6})
    monkeypatch.undo()
    assert path.read_text() == before
    assert pd.read_csv(path)["key"].tolist() == ["a"]
    assert leftovers(tmp_path, {"results.csv"}) == []


def test_results_csv_crash_before_rename_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "results.csv"
    append_record(path, {"key": "a", "accuracy": 0.7})
    before = path.read_text()

    def no_rename(src, dst):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="power cut"):
        append_record(path, {"key": "b", "accuracy": 0.6})
    monkeypatch.undo()
    assert path.read_text() == before
    assert leftovers(tmp_path, {"results.csv"}) == []
