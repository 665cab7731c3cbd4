"""Experiment records, resumable sweeps and the presets (course_lib.experiments.run)."""

import dataclasses
import json
import socket
from pathlib import Path

import pandas as pd
import pytest
import torch

from course_lib import SHARING_STRATEGIES, ModelConfig, TrainConfig, block_parameter_count
from course_lib.data.shipped import char_vocab_size
from course_lib.experiments.presets import fast_preset, full_preset, preset_runs, training_flops
from course_lib.experiments.provenance import mfu
from course_lib.experiments.run import KEY_FIELDS, RESULT_COLUMNS, run_experiment, run_key
from course_lib.experiments.sweep import run_sweep

RT = ModelConfig(vocab_size=500, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=16)
QUICK = TrainConfig(steps=10, batch_size=32, warmup_steps=2, device="cpu")
ROOT = Path(__file__).resolve().parents[2]
SHIPPED_SWEEPS = [
    p
    for p in sorted((ROOT / "data/results").glob("*.csv"))
    if p.open().readline().startswith("key,")
]
SHARE = {
    s: dict(sharing=s, n_blocks=1 if s in ("sequence", "cycle", "cycle_rev") else None)
    for s in SHARING_STRATEGIES
}


def test_run_key_is_stable_and_sensitive():
    a = run_key(RT, QUICK, "rotten_tomatoes")
    assert a == run_key(RT.replace(), QUICK.replace(), "rotten_tomatoes") and len(a) == 16
    assert a != run_key(RT.replace(sharing="all"), QUICK, "rotten_tomatoes")
    assert a != run_key(RT, QUICK.replace(seed=1), "rotten_tomatoes")
    lm = RT.replace(task="lm", vocab_size=100)
    assert run_key(lm, QUICK, "shakespeare") != run_key(lm, QUICK.replace(lr=2e-3), "shakespeare")


@pytest.mark.parametrize("csv", SHIPPED_SWEEPS, ids=[p.name for p in SHIPPED_SWEEPS])
def test_shipped_results_keys_recompute_from_their_configs(csv):
    """The sweep resumes from these files: each row's key is its configs' and dataset's."""
    df = pd.read_csv(csv, dtype={"key": str})
    for row in df.itertuples():
        model_cfg = ModelConfig.from_dict(json.loads(row.model_config))
        train_cfg = TrainConfig(**json.loads(row.train_config))
        assert run_key(model_cfg, train_cfg, row.dataset) == row.key, (csv.name, row.Index)
    assert len(df) >= 15


def test_run_key_depends_on_the_configs_not_on_the_results_columns():
    for cfg, always in ((RT, KEY_FIELDS["model"]), (QUICK, KEY_FIELDS["train"])):
        assert set(always) <= {f.name for f in dataclasses.fields(cfg)}
    later = {f.name for f in dataclasses.fields(RT)} - set(KEY_FIELDS["model"])
    assert "norm_eps" in later and "norm_eps" not in RESULT_COLUMNS  # in model_config only
    key = run_key(RT, QUICK, "rotten_tomatoes")
    assert run_key(RT.replace(norm_eps=1e-12), QUICK, "rotten_tomatoes") != key  # it counts
    assert run_key(RT.replace(norm_eps=1e-5), QUICK, "rotten_tomatoes") == key  # the default


def test_classification_record(one_thread):
    cfg = RT.replace(sharing="all", n_layers=3)
    rec = run_experiment(cfg, QUICK, "rotten_tomatoes", progress=False)
    assert rec["name"] == "all N3" and rec["plan"] == "0/0 0/0 0/0"
    assert rec["n_blocks"] == 1 and rec["n_attn"] == 1 and rec["n_ffn"] == 1
    assert rec["unique_params"] < rec["per_use_params"]
    assert rec["per_use_params"] - rec["unique_params"] == 2 * block_parameter_count(
        16, 32
    )  # 2 more uses
    assert rec["matmul_params"] == rec["per_use_params"] - 500 * 16 - 16 * 16
    assert 0.0 <= rec["accuracy"] <= 1.0 and 0.0 <= rec["val_accuracy"] <= 1.0
    assert rec["device"] == "cpu" and rec["peak_mem_mb"] is None and rec["tokens_per_s"] > 0
    assert rec["torch"] == torch.__version__ and rec["seed"] == 0
    for field, value in {**cfg.to_dict(), **QUICK.to_dict()}.items():
        name = {"device": "device_requested", "n_blocks": "n_blocks_cfg"}.get(field, field)
        if name in RESULT_COLUMNS or field in QUICK.to_dict():  # the rest: model_config
            assert rec[name] == value, field
    assert set(rec) <= set(RESULT_COLUMNS)
    assert ModelConfig.from_dict(json.loads(rec["model_config"])) == cfg


def test_lm_record(one_thread):
    cfg = ModelConfig(
        vocab_size=char_vocab_size(), d_model=16, n_heads=2, d_ff=32, n_layers=4, max_len=16,
        task="lm", sharing="cycle_rev", n_blocks=2,
    )  # fmt: skip
    rec = run_experiment(cfg, QUICK, "shakespeare", progress=False)
    assert rec["name"] == "cycle_rev N4 M2" and rec["plan"] == "0/0 1/1 1/1 0/0"
    assert rec["n_blocks"] == 2 and "accuracy" not in rec
    assert rec["val_bpc"] == pytest.approx(rec["val_loss"] / 0.6931471805599453)
    assert rec["val_loss"] < 4.4  # ln(80) = 4.38 is a uniform guess


def test_bad_runs_name_the_field():
    with pytest.raises(ValueError, match="^dataset='imdb'"):
        run_experiment(RT, QUICK, "imdb")
    with pytest.raises(
        ValueError, match="^task='classify' is not allowed with dataset='shakespeare'"
    ):
        run_experiment(RT, QUICK, "shakespeare")
    lm = RT.replace(task="lm", vocab_size=20)
    with pytest.raises(ValueError, match="^vocab_size=20 is not allowed"):
        run_experiment(lm, QUICK, "shakespeare")
    with pytest.raises(ValueError, match="^csv_path='x.txt'"):
        run_sweep([(RT, QUICK, "rotten_tomatoes")], "x.txt")


class Interrupted(Exception):
    pass


def fake_runner(session, fail_after=None):
    """A stand-in for run_experiment that records which session ran it, and may crash."""
    calls = []

    def run(model_cfg, train_cfg, dataset, progress=True):
        if fail_after is not None and len(calls) == fail_after:
            raise Interrupted("power cut")
        calls.append(model_cfg.sharing)
        return {"name": model_cfg.sharing, "plan": session, "per_use_params": 10,
                "matmul_params": 8, "batch_size": train_cfg.batch_size,
                "max_len": model_cfg.max_len, "tokens_per_s": 1.0, "device": "cpu",
                "device_name": "x86_64", "accuracy": 0.5}  # fmt: skip

    run.calls = calls
    return run


def test_sweep_resumes_after_interruption(tmp_path):
    runs = [(RT.replace(**SHARE[s]), QUICK, "rotten_tomatoes") for s in SHARING_STRATEGIES]
    csv = tmp_path / "res.csv"
    first = fake_runner("first", fail_after=3)
    with pytest.raises(Interrupted):
        run_sweep(runs, csv, progress=False, run_fn=first)
    partial = pd.read_csv(csv)
    assert list(partial["name"]) == ["none", "all", "attention"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res.csv", "res.json"]  # no temp files
    second = fake_runner("second")
    df = run_sweep(runs, csv, progress=False, run_fn=second)
    assert second.calls == list(SHARING_STRATEGIES[3:])  # finished runs were skipped
    assert sorted(df["key"]) == sorted({run_key(*r) for r in runs})  # each exactly once
    assert list(df["plan"]) == ["first"] * 3 + ["second"] * 4  # nothing lost
    third = fake_runner("third")
    assert len(run_sweep(runs + runs[:2], csv, progress=False, run_fn=third)) == 7
    assert third.calls == []


def test_provenance_beside_the_csv(tmp_path):
    run_sweep([(RT, QUICK, "rotten_tomatoes")], tmp_path / "p.csv", False, "fast", fake_runner("a"))
    text = (tmp_path / "p.json").read_text()
    info = json.loads(text)
    assert info["preset"] == "fast" and info["torch"] == torch.__version__
    assert info["n_records"] == 1 and info["largest"]["mfu"] is None  # CPU: no peak
    assert len(info["date_utc"]) == 10 and "mfu_assumption" in info
    assert "hostname" not in text and socket.gethostname() not in text


def test_corrupt_results_file_is_named(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"bad\.csv has no 'key' column"):
        run_sweep([(RT, QUICK, "rotten_tomatoes")], bad, progress=False)


def test_mfu_uses_the_h100_bf16_peak():
    rec = {"device": "cuda", "device_name": "NVIDIA H100 80GB HBM3", "tokens_per_s": 1e6,
           "per_use_params": 10_000_000, "matmul_params": 8_000_000}  # fmt: skip
    assert mfu(rec) == pytest.approx(6e13 / 989e12)
    assert mfu(rec, "matmul_params") == pytest.approx(4.8e13 / 989e12)
    assert mfu({**rec, "device": "cpu"}) is None
    assert mfu({**rec, "device_name": "Tesla T4"}) is None


def test_presets_cover_every_plan_and_fit_their_budget():
    fast, full = fast_preset(), full_preset()
    assert preset_runs("fast") == fast
    with pytest.raises(ValueError, match="^preset='huge'"):
        preset_runs("huge")
    assert {m.sharing for m, _, d in fast if d == "rotten_tomatoes"} == set(SHARING_STRATEGIES)
    assert max(training_flops([r]) for r in fast) < 2e12  # seconds on a CPU core
    for dataset in ("rotten_tomatoes", "shakespeare"):
        runs = [(m.sharing, m.n_layers) for m, _, d in full if d == dataset]
        assert len(runs) == len(set(runs))
        assert {s for s, _ in runs} == set(SHARING_STRATEGIES)
        assert len({n for _, n in runs}) >= 2
    assert all(m.attn_impl == "sdpa" and t.amp for m, t, _ in full)
    assert {m.n_blocks for m, _, _ in full if m.sharing == "cycle"} == {3, 6}
    assert training_flops(full) < 1.2e16  # minutes on one H100 at a modest MFU
    assert len({run_key(*r) for r in full}) == len(full)
