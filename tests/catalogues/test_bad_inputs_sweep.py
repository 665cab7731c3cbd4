"""Bad inputs to sweeps, each a named case (issue 10's catalogue, the sweep and CLI part).

Every case ends in a one-line message naming the field or the file, with every file it
was pointed at left byte-identical, or in a correct result. A stand-in for
``run_experiment`` (no training) keeps the file fast; it records whether it was called,
so "before any training" is asserted, not assumed.
"""

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from course_lib import ModelConfig, TrainConfig
from course_lib.__main__ import main
from course_lib.experiments.presets import fast_preset, parse_seeds
from course_lib.experiments.results import failures_path, read_results
from course_lib.experiments.run import record_stub, run_key
from course_lib.experiments.sweep import run_sweep
from course_lib.training.step import TrainingDiverged

ROOT = Path(__file__).resolve().parents[2]
RT = ModelConfig(vocab_size=500, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=16)
QUICK = TrainConfig(steps=10, batch_size=32, warmup_steps=2, device="cpu")
RUN = (RT, QUICK, "rotten_tomatoes")
CALLS = []


def stand_in(model_cfg, train_cfg, dataset, progress=True):
    CALLS.append(train_cfg.seed)
    return record_stub(model_cfg, train_cfg, dataset) | {"accuracy": 0.5}


def returning(**fields):
    return lambda m, t, d, progress=True: record_stub(m, t, d) | fields


def diverging(m, t, d, progress=True):
    raise TrainingDiverged(7, 10.0, "the loss is inf")


def sweep_into(t, name="r.csv", run_fn=stand_in, **kw):
    return run_sweep([RUN], t / name, progress=False, run_fn=run_fn, **kw)


def write(t, name, data):
    (t / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def copy_full_sweep(t, with_json=True):
    shutil.copy(ROOT / "data/results/full_sweep.csv", t / "r.csv")
    if with_json:
        shutil.copy(ROOT / "data/results/full_sweep.json", t / "r.json")


def own_sweep(t, preset="fast"):
    sweep_into(t, preset=preset)


def cut_header(t):
    own_sweep(t)
    write(t, "r.csv", (t / "r.csv").read_bytes()[:40])


def damaged_row(t):
    own_sweep(t)
    write(t, "r.csv", (t / "r.csv").read_bytes() + b"abc,1\n")


def provenance_says(t, **fields):
    own_sweep(t)
    info = json.loads((t / "r.json").read_text()) | fields
    write(t, "r.json", json.dumps(info))


def disk_full(t, monkeypatch):
    def no_space(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)


# (case, set-up (tmp folder, monkeypatch), the call, the words the message must hold)
REFUSED = [
    ("user_csv_with_a_key_column", lambda t, m: write(t, "r.csv", "key,x\n00123,1\n"), sweep_into, "r.csv has other columns"),
    ("full_sweep_copy_without_provenance", lambda t, m: copy_full_sweep(t, False), sweep_into, "no provenance r.json"),
    ("full_sweep_copy_fast_preset", lambda t, m: copy_full_sweep(t), lambda t: sweep_into(t, preset="fast"), "preset='full'"),
    ("full_sweep_copy_full_preset_on_cpu", lambda t, m: copy_full_sweep(t), lambda t: sweep_into(t, preset="full"), "device='NVIDIA H200'"),
    ("own_sweep_other_preset", lambda t, m: own_sweep(t, "fast"), lambda t: sweep_into(t, preset="full"), "preset='fast'"),
    ("own_sweep_no_preset_given", lambda t, m: own_sweep(t, "fast"), sweep_into, "preset='fast'"),
    ("provenance_of_another_schema", lambda t, m: provenance_says(t, schema="course_lib.experiments.sweep/9"), lambda t: sweep_into(t, preset="fast"), "schema='course_lib.experiments.sweep/9'"),
    ("provenance_of_another_device", lambda t, m: provenance_says(t, device="NVIDIA A100"), lambda t: sweep_into(t, preset="fast"), "device='NVIDIA A100'"),
    ("json_beside_is_not_json", lambda t, m: write(t, "r.json", "{oops"), sweep_into, "r.json is not a sweep's provenance"),
    ("json_beside_is_a_list", lambda t, m: write(t, "r.json", "[1, 2]"), sweep_into, "r.json is not a sweep's provenance"),
    ("json_beside_is_someone_elses", lambda t, m: write(t, "r.json", '{"preset": "mine"}'), sweep_into, "r.json is not a sweep's provenance"),
    ("csv_empty_file", lambda t, m: write(t, "r.csv", ""), sweep_into, "r.csv has no 'key' column"),
    ("csv_header_only_cut", lambda t, m: cut_header(t), lambda t: sweep_into(t, preset="fast"), "r.csv has no 'key' column"),
    ("csv_with_nul_bytes", lambda t, m: write(t, "r.csv", b"key,name\x00\n"), sweep_into, "r.csv cannot be read as CSV"),
    ("csv_not_utf8", lambda t, m: write(t, "r.csv", b"key\n\xff\xfe\n"), sweep_into, "r.csv cannot be read as CSV"),
    ("csv_unclosed_quote", lambda t, m: write(t, "r.csv", 'key\n"abc\n'), sweep_into, "r.csv cannot be read as CSV"),
    ("csv_row_with_wrong_field_count", lambda t, m: damaged_row(t), lambda t: sweep_into(t, preset="fast"), "line 3 has 2 fields"),
    ("csv_old_column_order", lambda t, m: write(t, "r.csv", "name,key\n"), sweep_into, "other columns"),
    ("failures_file_of_another_program", lambda t, m: write(t, "r.failures.csv", "key,why\n"), sweep_into, "r.failures.csv has other columns"),
    ("out_is_a_folder", lambda t, m: (t / "r.csv").mkdir(), sweep_into, "it is a folder"),
    ("out_under_a_file", lambda t, m: write(t, "notes", "x"), lambda t: sweep_into(t, "notes/r.csv"), "is a file, not a folder"),
    ("out_wrong_suffix", lambda t, m: None, lambda t: sweep_into(t, "r.tsv"), "it must end in .csv"),
    ("out_name_too_long", lambda t, m: None, lambda t: sweep_into(t, "r" * 250 + ".csv"), "cannot be written"),
    ("out_under_proc", lambda t, m: None, lambda t: run_sweep([RUN], "/proc/course/r.csv", False, run_fn=stand_in), "cannot be written"),
    ("out_on_a_full_disk", lambda t, m: disk_full(t, m), sweep_into, "No space left on device"),
    ("run_is_not_a_tuple", lambda t, m: None, lambda t: run_sweep([RT], t / "r.csv", False, run_fn=stand_in), "runs[0]=ModelConfig"),
    ("run_of_two_items", lambda t, m: None, lambda t: run_sweep([(RT, QUICK)], t / "r.csv", False, run_fn=stand_in), "runs[0]=tuple"),
    ("run_with_unknown_dataset", lambda t, m: None, lambda t: run_sweep([(RT, QUICK, "imdb")], t / "r.csv", False, run_fn=stand_in), "dataset='imdb'"),
    ("run_with_dict_config", lambda t, m: None, lambda t: run_sweep([(RT.to_dict(), QUICK, "rotten_tomatoes")], t / "r.csv", False, run_fn=stand_in), "model_cfg=dict"),
    ("record_with_unknown_field", lambda t, m: None, lambda t: sweep_into(t, run_fn=returning(colour="red")), "record fields ['colour']"),
    ("seed_outside_numpy_range", lambda t, m: None, lambda t: sweep_into(t, seeds=[2**32]), "seed=4294967296"),
]  # fmt: skip


@pytest.mark.parametrize(
    "setup, call, words", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_refused_with_a_clear_message_and_nothing_changed(
    setup, call, words, tmp_path, monkeypatch
):
    setup(tmp_path, monkeypatch)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    CALLS.clear()
    with pytest.raises(ValueError) as err:
        call(tmp_path)
    message = str(err.value)
    assert words in message, message
    assert "\n" not in message, "one line, please"
    monkeypatch.undo()
    assert CALLS == [], "refused before any training"
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    if words != "record fields ['colour']":  # refused after training: its own files only
        assert after == before, "every file byte-identical"


SEEDS_TEXT = [("letters", "a-b"), ("backwards", "5-2"), ("negative", "-1"), ("too_big", "0-4294967296"), ("empty", ""), ("float", "1.5")]  # fmt: skip


@pytest.mark.parametrize(
    "text", [t for _, t in SEEDS_TEXT], ids=[f"seeds_{n}" for n, _ in SEEDS_TEXT]
)
def test_bad_seed_lists_name_the_field(text):
    with pytest.raises(ValueError, match=r"^seeds=.* is not allowed: use integers"):
        parse_seeds(text)


CLI = [
    ("cli_seeds_letters", ["--seeds", "x"], "argument --seeds: seeds='x' is not allowed"),
    ("cli_seeds_backwards", ["--seeds", "9-0"], "argument --seeds"),
    ("cli_dataset_unknown", ["--dataset", "imdb"], "argument --dataset: invalid choice: 'imdb'"),
    ("cli_out_full_sweep_copy", ["--out", "COPY"], "refusing to append"),
]


@pytest.mark.parametrize("extra, words", [c[1:] for c in CLI], ids=[c[0] for c in CLI])
def test_cli_refuses_with_one_line_and_status_2(extra, words, tmp_path, capsys):
    copy_full_sweep(tmp_path)
    before = (tmp_path / "r.csv").read_bytes()
    extra = [str(tmp_path / "r.csv") if a == "COPY" else a for a in extra]
    argv = [
        "sweep",
        "--preset",
        "fast",
        "--out",
        str(tmp_path / "x.csv"),
        "--limit",
        "1",
        "--quiet",
    ]
    with pytest.raises(SystemExit) as exc:
        main(argv + extra)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and words in err and "Traceback" not in err, err
    assert (tmp_path / "r.csv").read_bytes() == before and not (tmp_path / "x.csv").exists()


# ------------------------------------------------------------ correct results, not silent ones


def test_keys_that_look_like_numbers_stay_strings(tmp_path):
    """Seeds 4550 and 284 give the fast preset's first model keys pandas reads as numbers."""
    model_cfg, train_cfg, dataset = fast_preset()[0]
    runs = [(model_cfg, train_cfg.replace(seed=s), dataset) for s in (4550, 284)]
    keys = [run_key(*r) for r in runs]
    assert any(k.isdigit() for k in keys) and any(
        "e" in k and k.replace("e", "").isdigit() for k in keys
    )
    csv = tmp_path / "r.csv"
    run_sweep(runs, csv, progress=False, run_fn=stand_in)
    CALLS.clear()
    df = run_sweep(runs, csv, progress=False, run_fn=stand_in)
    assert CALLS == [] and list(df["key"]) == keys  # not re-run, not 5.12e14 nor inf


def test_a_cut_last_line_is_not_a_finished_run(tmp_path, capsys):
    csv = tmp_path / "r.csv"
    runs = [RUN, (RT, QUICK.replace(seed=1), "rotten_tomatoes")]
    run_sweep(runs, csv, progress=False, run_fn=stand_in)
    whole = csv.read_bytes()
    csv.write_bytes(whole[:-30])  # the second row loses its end
    CALLS.clear()
    df = run_sweep(runs, csv, progress=True, run_fn=stand_in)
    assert CALLS == [1] and len(df) == 2 and csv.read_bytes() == whole
    assert "r.csv: its last line was cut" in capsys.readouterr().out


def test_a_diverged_run_fails_the_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("course_lib.experiments.sweep.run_experiment", diverging)
    out = tmp_path / "r.csv"
    assert main(["sweep", "--preset", "fast", "--out", str(out), "--limit", "1", "--quiet"]) == 1
    text = capsys.readouterr().out
    assert "0 records in" in text and "1 runs failed" in text and "r.failures.csv" in text
    assert "training diverged at step 7 (lr=10)" in text
    assert (
        read_results(out).empty
        and json.loads(out.with_suffix(".json").read_text())["n_failed"] == 1
    )


@pytest.mark.parametrize("field", ["accuracy", "final_train_loss", "val_loss"])
def test_a_non_finite_metric_is_a_failure(field, tmp_path):
    csv = tmp_path / "r.csv"
    df = run_sweep([RUN], csv, progress=False, run_fn=returning(**{field: math.nan}))
    assert df.empty
    assert f"non-finite {field}" in read_results(failures_path(csv))["error"][0]


def test_leftover_temp_files_are_removed(tmp_path):
    csv = tmp_path / "r.csv"
    run_sweep([RUN], csv, progress=False, preset="fast", run_fn=stand_in)
    for name in ("r.csv.ab12cd34.tmp", "r.json.ab12cd34.tmp", "r.failures.csv.zz.tmp"):
        write(tmp_path, name, "half")
    write(tmp_path, "notes.tmp", "a learner's file")  # not ours: kept
    run_sweep([RUN], csv, progress=False, preset="fast", run_fn=stand_in)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.tmp", "r.csv", "r.json"]


def test_a_provenance_one_record_behind_is_rebuilt(tmp_path):
    csv = tmp_path / "r.csv"
    run_sweep([RUN], csv, progress=False, preset="fast", run_fn=stand_in)
    info = json.loads(csv.with_suffix(".json").read_text())
    csv.with_suffix(".json").write_text(json.dumps(info | {"n_records": 0}))
    run_sweep([RUN], csv, progress=False, preset="fast", run_fn=stand_in)
    assert json.loads(csv.with_suffix(".json").read_text())["n_records"] == 1


def test_duplicate_seeds_run_once(tmp_path):
    CALLS.clear()
    df = sweep_into(tmp_path, seeds=parse_seeds("3,3,1-3"))
    assert CALLS == [1, 2, 3] and sorted(df["seed"]) == [1, 2, 3]


def test_missing_folders_are_created(tmp_path):
    assert len(sweep_into(tmp_path, "a/b/r.csv")) == 1
