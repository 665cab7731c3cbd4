"""Bad inputs, round two (issue 18): each case that was silent, hung or gave a raw
traceback now gives a one-line message naming the file, column or field, or a correct
result. Own data, checkpoints, sweeps, training, the ALBERT loader, memory and DDP.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.utils.data import TensorDataset

from course_lib import ModelConfig, TrainConfig, build_model, files
from course_lib.data.own import own_data, own_tensors
from course_lib.data.shipped import SPLITS as SPL
from course_lib.experiments.presets import parse_seeds
from course_lib.experiments.results import read_results
from course_lib.experiments.run import record_stub
from course_lib.experiments.sweep import RecordLost, run_sweep
from course_lib.files import FolderLocked, temp_files
from course_lib.measure.stats import compare_to_baseline
from course_lib.nn.albert import config_from_hf, from_hf_albert, load_local_albert
from course_lib.training.checkpoints import load_checkpoint, save_checkpoint
from course_lib.training.distributed import main as ddp_main
from course_lib.training.step import TrainingDiverged
from course_lib.training.train import train_model

ROOT = Path(__file__).resolve().parents[2]
TINY = ModelConfig.preset("tiny", n_layers=2, vocab_size=100, max_len=16)
QUICK = TrainConfig(steps=4, batch_size=4, warmup_steps=1, device="cpu")


def texts_df(n=60, repeat=1, **extra):
    """n distinct texts in 2 classes, each row repeated ``repeat`` times."""
    rows = [
        {"text": f"doc {i} {'good' if i % 2 else 'bad'}", "label": "pos" if i % 2 else "neg"}
        for i in range(n)
        for _ in range(repeat)
    ]
    return pd.DataFrame(rows).assign(**extra)


# ------------------------------------------------------------------ your own data


def test_a_header_with_a_column_twice_is_refused(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("text,text,label\n" + "".join(f"a{i},b{i},{i % 2}\n" for i in range(20)))
    with pytest.raises(
        ValueError, match=r"twice.csv has the column\(s\) \['text'\] more than once"
    ):
        own_data(path)
    df = pd.DataFrame([["a", "b", 1]] * 20, columns=["text", "text", "label"])
    with pytest.raises(ValueError, match=r"the DataFrame has the column\(s\) \['text'\]"):
        own_data(df)


def test_labels_differing_by_whitespace_are_one_class():
    df = texts_df()
    df.loc[::4, "label"] = df.loc[::4, "label"] + " "  # "pos " and " neg"
    df.loc[2::4, "label"] = " " + df.loc[2::4, "label"]
    data = own_data(df)
    assert data.classes == ("neg", "pos")


@pytest.mark.parametrize("marker", ["NA", "NULL", "N/A", "nan", "None"])
def test_missing_value_markers_are_no_class(marker):
    df = texts_df()
    df.loc[[3, 7], "label"] = marker
    with pytest.raises(ValueError) as err:
        own_data(df)
    assert f"label_column='label' holds ['{marker}']" in str(err.value)
    assert "rows [3, 7]" in str(err.value) and "missing label" in str(err.value)


def test_repeated_rows_never_put_a_test_text_in_train():
    with pytest.warns(UserWarning, match="120 rows repeat the text of an earlier row"):
        data = own_data(texts_df(repeat=3))
    by_split = {s: {t for t, x in zip(data.texts, data.splits, strict=True) if x == s} for s in SPL}
    assert not by_split["train"] & (by_split["val"] | by_split["test"])
    assert data.split_sizes()["test"] > 0 and data.split_sizes()["val"] > 0
    train, val, test = own_tensors(data, 100, 8)
    assert len(train) + len(val) + len(test) == 180


def test_distinct_rows_split_as_before_and_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = own_data(texts_df())
    assert data.split_sizes() == {"train": 48, "val": 6, "test": 6}


def test_a_given_split_that_repeats_train_texts_in_test_is_refused():
    df = texts_df(repeat=2)
    df["split"] = ["train", "test"] * 60
    df.loc[:9, "split"] = "val"
    with pytest.raises(ValueError, match=r"(\d+) val/test rows repeat a text of the train split"):
        own_data(df)


def test_a_folder_named_like_a_csv_is_named(tmp_path):
    (tmp_path / "x.csv").mkdir()
    with pytest.raises(ValueError, match="x.csv is a folder, not a CSV file"):
        own_data(tmp_path / "x.csv")


# ------------------------------------------------------------------ checkpoints


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return build_model(TINY)


def test_a_checkpoint_with_nan_weights_is_refused_on_load_and_save(tmp_path):
    model = tiny_model()
    path = save_checkpoint(tmp_path / "m.pt", model, TINY)
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["head.weight"][0, 0] = float("nan")
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"m.pt: head.weight holds 1 non-finite value"):
        load_checkpoint(path)
    with torch.no_grad():
        model.head.bias.fill_(float("inf"))
    with pytest.raises(ValueError, match=r"head.bias holds 2 non-finite value"):
        save_checkpoint(tmp_path / "bad.pt", model, TINY)
    assert not (tmp_path / "bad.pt").exists()


def test_integer_weights_are_refused_not_loaded_as_zeros(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", tiny_model(), TINY)
    payload = torch.load(path, weights_only=True)
    payload["state_dict"] = {k: (v * 100).long() for k, v in payload["state_dict"].items()}
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"is stored as torch.int64, the model needs a floating"):
        load_checkpoint(path)


@pytest.mark.parametrize("how", ["save_checkpoint", "train_model"])
def test_a_save_never_overwrites_a_file_it_did_not_write(tmp_path, how):
    csv_path = tmp_path / "results.csv"
    csv_path.write_text("key,accuracy\nabc,0.7\n")
    before = csv_path.read_bytes()
    model = tiny_model()
    with pytest.raises(ValueError, match="not a course_lib checkpoint"):
        if how == "save_checkpoint":
            save_checkpoint(csv_path, model, TINY)
        else:
            ds = TensorDataset(torch.randint(0, 100, (8, 8)), torch.randint(0, 2, (8,)))
            train_model(model, ds, QUICK, progress=False, checkpoint=csv_path)
    assert csv_path.read_bytes() == before
    first = save_checkpoint(tmp_path / "m.pt", model, TINY)  # its own file: overwritten
    assert save_checkpoint(first, tiny_model(1), TINY) == first


KILLED_SAVE = """
import sys, torch
from course_lib import ModelConfig, build_model
from course_lib.training.train import save_checkpoint
cfg = ModelConfig.preset("tiny", n_layers=2, vocab_size=100, max_len=16)
real_save = torch.save
def slow_save(obj, f, *a, **k):
    real_save(obj, f, *a, **k)
    print("written", flush=True)
    import time; time.sleep(60)
torch.save = slow_save
save_checkpoint(sys.argv[1], build_model(cfg), cfg)
"""


def test_a_kill_during_save_leaves_no_temp_file_after_the_next_save(tmp_path):
    path = tmp_path / "m.pt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for _ in range(2):  # two killed saves
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_SAVE, str(path)], env=env, stdout=subprocess.PIPE
        )
        assert proc.stdout.readline().strip() == b"written"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert len(temp_files(path)) == 1 and not path.exists()  # the 2nd removed the 1st's
    save_checkpoint(path, tiny_model(), TINY)
    assert temp_files(path) == [] and load_checkpoint(path)[1] == TINY


def test_a_concurrent_writers_temp_file_is_kept(tmp_path):
    path = tmp_path / "m.pt"
    mine = tmp_path / f"m.pt.{os.getpid()}.abcd1234.tmp"  # a live writer: this process
    mine.write_bytes(b"x")
    save_checkpoint(path, tiny_model(), TINY)
    assert temp_files(path) == [mine]


# ------------------------------------------------------------------ sweeps

RT = ModelConfig(vocab_size=500, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=16)
RUN = (RT, TrainConfig(steps=10, batch_size=32, warmup_steps=2, device="cpu"), "rotten_tomatoes")


def stand_in(model_cfg, train_cfg, dataset, progress=True):
    return record_stub(model_cfg, train_cfg, dataset) | {"accuracy": 0.5 + train_cfg.seed / 100}


@pytest.mark.parametrize("text", ["0-", "3-", "0-4,5-", "-"])
def test_a_seed_range_without_an_end_is_an_error(text):
    with pytest.raises(ValueError, match=f"seeds={text!r} is not allowed"):
        parse_seeds(text)
    assert parse_seeds("0-2,5") == [0, 1, 2, 5]


def test_a_home_path_is_expanded_everywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    df = run_sweep([RUN], "~/r.csv", progress=False, run_fn=stand_in, seeds=[0])
    assert len(df) == 1 and (tmp_path / "r.csv").is_file()
    assert len(read_results("~/r.csv")) == 1
    assert save_checkpoint("~/m.pt", tiny_model(), TINY) == tmp_path / "m.pt"
    assert load_checkpoint("~/m.pt")[1] == TINY
    texts_df().to_csv(tmp_path / "d.csv", index=False)
    assert own_data("~/d.csv").n_classes == 2
    assert not (tmp_path / "~").exists()


def test_an_analysis_never_pools_two_datasets():
    runs = pd.DataFrame(
        {
            "name": ["none", "all"] * 6,
            "seed": [0, 0, 1, 1, 2, 2] * 2,
            "accuracy": 0.6,
            "dataset": ["rotten_tomatoes"] * 6 + ["my.csv@1a2b3c4d5e6f"] * 6,
        }  # fmt: skip
    )
    with pytest.raises(ValueError, match=r"holds runs on 2 datasets \['my.csv@1a2b3c4d5e6f', "):
        compare_to_baseline(runs, "accuracy", "none")
    one = compare_to_baseline(runs[runs["dataset"] == "rotten_tomatoes"], "accuracy", "none")
    assert one.loc["all", "n"] == 3 and one.loc["all", "method"] == "paired"


def test_a_full_disk_mid_sweep_keeps_the_finished_results(tmp_path, monkeypatch):
    import course_lib.experiments.results as results_module

    real, calls = results_module._append, []

    def fills_up(path, record, columns, old):
        calls.append(path)
        if len(calls) == 3:  # the third record: the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, record, columns, old)

    monkeypatch.setattr(results_module, "_append", fills_up)
    with pytest.raises(RecordLost) as err:
        run_sweep([RUN], tmp_path / "r.csv", progress=False, run_fn=stand_in, seeds=[0, 1, 2, 3])
    assert "[3/4] none N2 on rotten_tomatoes (seed 2): trained, but its record" in str(err.value)
    assert "(the disk is full); this run is lost, the 2 runs recorded before it" in str(err.value)
    assert read_results(tmp_path / "r.csv")["seed"].tolist() == [0, 1]
    monkeypatch.setattr(results_module, "_append", real)  # space freed: the rerun completes
    df = run_sweep([RUN], tmp_path / "r.csv", progress=False, run_fn=stand_in, seeds=[0, 1, 2, 3])
    assert df["seed"].tolist() == [0, 1, 2, 3]


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""


def test_a_held_lock_is_reported_with_its_holder_within_the_wait(tmp_path, monkeypatch):

    monkeypatch.setattr(files, "LOCK_WAIT_S", 1.0)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline().strip() == b"locked"
        start = time.monotonic()
        with pytest.raises(FolderLocked) as err:
            run_sweep([RUN], tmp_path / "r.csv", progress=False, run_fn=stand_in)
        assert time.monotonic() - start < 10
        assert f"is locked by process {holder.pid} (" in str(err.value)
        assert "running for" in str(err.value) and "held for over 1 s" in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    assert len(run_sweep([RUN], tmp_path / "r.csv", progress=False, run_fn=stand_in)) == 1


# ------------------------------------------------------------------ training


def separable(n=64, seed=0, vocab=100, T=8):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randint(2, vocab, (n, T), generator=g)
    x[:, 0] = y + 2  # the first token gives the label away
    return TensorDataset(x, y)


def test_a_finite_but_exploding_loss_is_called_diverged(one_thread):
    model = tiny_model()
    cfg = TrainConfig(steps=30, batch_size=16, lr=1e3, warmup_steps=0, grad_clip=None,
                      optimizer="adam", device="cpu")  # fmt: skip
    with pytest.raises(TrainingDiverged) as err:
        train_model(model, separable(), cfg, progress=False)
    text = str(err.value)
    assert "the loss grew from 0." in text and "finite, but exploding" in text
    assert "training diverged at step 1 " in text  # the first step after the first update


def test_the_growth_check_against_step_0(one_thread):
    from course_lib.training.step import _divergence
    from course_lib.training.train import _check_final_loss

    finite = [torch.tensor(v) for v in (0.69, 3.0, 60.0, 5.8e5)]
    norms = [torch.tensor(1.0)] * 4
    err = _divergence(finite, norms, 0, [1e3] * 4, 1e3)
    assert err.step == 3 and "grew from 0.69 at step 0 to 5.8e+05 (over 100x" in str(err)
    assert _divergence(finite[:3], norms[:3], 0, [1e3] * 3, 1e3) is None  # 87x: not yet
    with pytest.raises(TrainingDiverged, match=r"ended at 20 \(mean of the last 10 steps\)"):
        _check_final_loss([0.69] + [20.0] * 10, 1e3, 1e3)
    _check_final_loss([0.69] + [0.3] * 10, 1e-3, 1e-3)  # a run that learned: no error


def test_normal_training_is_not_called_diverged(one_thread):
    model = tiny_model()
    hist = train_model(model, separable(), QUICK.replace(steps=20), progress=False)
    assert len(hist["loss"]) == 20


def test_float16_weights_are_a_dtype_the_cpu_cannot_train(one_thread):
    model = tiny_model().half()
    for lr in (1e-6, 1e-3):
        with pytest.raises(ValueError) as err:
            train_model(model, separable(), QUICK.replace(lr=lr), progress=False)
        assert "model weights are torch.float16" in str(err.value)
        assert "cannot be trained on cpu" in str(err.value) and "model.float()" in str(err.value)
        assert "smaller lr" not in str(err.value)


def test_an_encoder_only_model_or_the_wrong_task_is_named(one_thread):
    encoder = build_model(TINY.replace(task="encode"))
    with pytest.raises(ValueError, match="encoder-only model .*task='classify' or task='lm'"):
        train_model(encoder, separable(), QUICK, progress=False)
    with pytest.raises(ValueError, match="task='lm' is not allowed for this model: it was built"):
        train_model(tiny_model(), separable(), QUICK, task="lm", progress=False)


@pytest.mark.parametrize("x_dtype, y_dtype", [(torch.uint8, torch.long), (torch.long, torch.int32),
                                              (torch.int16, torch.uint8)])  # fmt: skip
def test_small_integer_dtypes_train_as_long(x_dtype, y_dtype, one_thread):
    ds = separable()
    x, y = ds.tensors
    hist = train_model(tiny_model(), TensorDataset(x.to(x_dtype), y.to(y_dtype)), QUICK,
                       eval_ds=TensorDataset(x.to(x_dtype), y.to(y_dtype)), progress=False)  # fmt: skip
    assert 0 <= hist["eval"][-1]["accuracy"] <= 1
    with pytest.raises(ValueError, match="ids of dtype torch.uint8 are not allowed: .*ids.long"):
        tiny_model()(x[:2].to(torch.uint8))


def test_a_dataset_whose_inputs_and_labels_differ_in_length(one_thread):
    ds = separable()
    ds.tensors = (ds.tensors[0], ds.tensors[1][:50])
    with pytest.raises(ValueError, match="train_ds has 64 inputs but 50 targets"):
        train_model(tiny_model(), ds, QUICK, progress=False)


# ------------------------------------------------------------------ the ALBERT loader

SMALL_HF = dict(vocab_size=101, embedding_size=16, hidden_size=48, num_hidden_layers=4,
                num_attention_heads=4, intermediate_size=96, max_position_embeddings=40)  # fmt: skip


def hf_albert(**changes):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf_cfg = transformers.AlbertConfig(**{**SMALL_HF, **changes})
    return hf_cfg, transformers.AlbertModel(hf_cfg).eval()


def test_a_second_layer_group_is_an_error_not_a_drop():
    hf_cfg, hf = hf_albert(num_hidden_groups=2)
    cfg = config_from_hf(hf_albert()[0])  # a ModelConfig for one group
    with pytest.raises(ValueError, match=r"holds \d+ weights course_lib would not use, e.g. "
                       r"\['encoder.albert_layer_groups.1"):  # fmt: skip
        from_hf_albert(hf.state_dict(), cfg)
    with pytest.raises(ValueError, match="num_hidden_groups=2 is not allowed"):
        from_hf_albert(hf.state_dict(), hf_cfg)


def test_dropout_is_mapped_and_unknown_fields_are_refused_by_name():
    hf_cfg, _ = hf_albert(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    assert config_from_hf(hf_cfg).dropout == 0.1
    with pytest.raises(ValueError, match="hidden_dropout_prob=0.1 with attention_probs_dropout"):
        config_from_hf({**hf_cfg.to_dict(), "attention_probs_dropout_prob": 0.0})
    with pytest.raises(ValueError, match=r"field\(s\) \['rotary_dim'\] are not allowed"):
        config_from_hf({**hf_cfg.to_dict(), "rotary_dim": 8})
    with pytest.raises(ValueError, match="position_embedding_type='relative_key' is not allowed"):
        config_from_hf({**hf_cfg.to_dict(), "position_embedding_type": "relative_key"})
    albert_base_v2 = {  # the config.json of albert-base-v2, as published
        "architectures": ["AlbertForMaskedLM"], "attention_probs_dropout_prob": 0,
        "bos_token_id": 2, "classifier_dropout_prob": 0.1, "down_scale_factor": 1,
        "embedding_size": 128, "eos_token_id": 3, "gap_size": 0, "hidden_act": "gelu_new",
        "hidden_dropout_prob": 0, "hidden_size": 768, "initializer_range": 0.02,
        "inner_group_num": 1, "intermediate_size": 3072, "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512, "model_type": "albert", "net_structure_type": 0,
        "num_attention_heads": 12, "num_hidden_groups": 1, "num_hidden_layers": 12,
        "num_memory_blocks": 0, "pad_token_id": 0, "type_vocab_size": 2, "vocab_size": 30000,
    }  # fmt: skip
    assert config_from_hf(albert_base_v2) == ModelConfig.preset("albert_base")


def test_a_float64_state_dict_keeps_its_dtype():
    hf_cfg, hf = hf_albert()
    hf = hf.double()
    ours = from_hf_albert(hf.state_dict(), hf_cfg)
    assert {p.dtype for p in ours.parameters()} == {torch.float64}
    ids = torch.randint(1, 101, (2, 9))
    with torch.no_grad():
        diff = (ours(ids) - hf(input_ids=ids).last_hidden_state).abs().max().item()
    assert diff < 1e-10  # float64 all the way: no float32 rounding
    mixed = {**hf.state_dict(), "pooler.bias": hf.pooler.bias.float()}
    with pytest.raises(ValueError, match="state_dict mixes dtypes"):
        from_hf_albert(mixed, hf_cfg)


def test_attention_mask_treats_a_real_pad_id_token_as_hf_does():
    hf_cfg, hf = hf_albert()
    ours = from_hf_albert(hf.state_dict(), hf_cfg)
    ids = torch.randint(1, 101, (2, 12))
    ids[0, 3] = 0  # a real token whose id is the pad id
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # real padding at the end of the second sequence
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        diff = (ours(ids, attention_mask=mask) - ref).abs()
        guessed = (ours(ids) - ref).abs()
    assert diff[0].max() <= 1e-5 and diff[1, :9].max() <= 1e-5
    assert guessed[0].max() > 1e-3  # without the mask the pad-id token is taken as padding
    with pytest.raises(ValueError, match="attention_mask of shape \\(2, 5\\) is not allowed"):
        ours(ids, attention_mask=mask[:, :5])


def test_bad_model_folders_are_named(tmp_path):
    hf_cfg, hf = hf_albert()
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text('{"model_type": "bert", "hidden_size": 48}')
    with pytest.raises(ValueError, match=r"lacks \['vocab_size', .*\(model_type='bert'\)"):
        load_local_albert(bert)
    (bert / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json is not JSON"):
        load_local_albert(bert)
    hf.save_pretrained(tmp_path / "st")
    weights = tmp_path / "st" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match="model.safetensors is corrupt or not a weights file"):
        load_local_albert(tmp_path / "st")


def test_a_bert_config_is_named_and_notebook_05s_variants_still_load():
    hf_cfg, hf = hf_albert()
    with pytest.raises(
        ValueError, match="model_type='bert' is not allowed: course_lib builds 'albert'"
    ):
        config_from_hf({**hf_cfg.to_dict(), "model_type": "bert"})
    exact = config_from_hf(hf_cfg)
    for change in ({"type_vocab_size": 0}, {"pooler": False}, {"activation": "gelu"}):
        assert from_hf_albert(hf.state_dict(), exact.replace(**change)) is not None


# ------------------------------------------------------------------ memory and DDP

HUGE = dict(vocab_size=10**10, d_model=16, n_heads=2, d_ff=32, n_layers=2)


def test_a_huge_config_is_refused_before_any_allocation(tmp_path):
    with pytest.raises(
        ValueError, match=r"needs about 640.0 GB for its weights, [\d.]+ GB available"
    ):
        build_model(ModelConfig(**HUGE))
    small = tmp_path / "small.pt"  # a 2 KB checkpoint that claims a huge vocabulary
    save_checkpoint(small, tiny_model(), TINY)
    payload = torch.load(small, weights_only=True)
    payload["config"]["vocab_size"] = 10**10
    payload["state_dict"] = {}
    torch.save(payload, small)
    assert small.stat().st_size < 4096
    with pytest.raises(ValueError, match="make vocab_size, embed_dim or max_len smaller"):
        load_checkpoint(small)
    folder = tmp_path / "albert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**SMALL_HF, "vocab_size": 10**10}))
    torch.save({}, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match="GB for its weights"):
        load_local_albert(folder)
    with torch.device("meta"):  # shapes only: nothing to refuse
        assert build_model(ModelConfig(**HUGE)).embed.tok_emb.weight.shape[0] == 10**10


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LAUNCH = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


@pytest.mark.parametrize(
    "env, words",
    [
        ({"RANK": "0"}, "WORLD_SIZE=None is not allowed"),
        ({"RANK": "2", "WORLD_SIZE": "2"}, "RANK=2 is not allowed with WORLD_SIZE=2"),
        ({"RANK": "x", "WORLD_SIZE": "2"}, "RANK='x' is not allowed"),
        ({"RANK": "0", "WORLD_SIZE": "0"}, "WORLD_SIZE=0 is not allowed"),
        (
            {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "3", "LOCAL_WORLD_SIZE": "2"},
            "LOCAL_RANK=3, LOCAL_WORLD_SIZE=2 are not allowed",
        ),  # fmt: skip
        ({"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": ""}, "MASTER_ADDR is not set"),
        ({"RANK": "0", "WORLD_SIZE": "2", "MASTER_PORT": "99999"}, "MASTER_PORT=99999"),
    ],
)
def test_ddp_checks_the_launch_before_joining(tmp_path, monkeypatch, env, words):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    for k, v in {**LAUNCH, **env}.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit, match=re.escape(words)):
        ddp_main(["--out", str(tmp_path / "ddp"), "--steps", "1"])


def test_ddp_with_a_missing_process_stops_after_the_join_timeout(tmp_path, monkeypatch):
    port = str(free_port())
    for k, v in {
        "RANK": "0",
        "WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": port,
    }.items():
        monkeypatch.setenv(k, v)
    start = time.monotonic()
    with pytest.raises(SystemExit, match=r"not every process joined within 2 s \(WORLD_SIZE=2"):
        ddp_main(["--out", str(tmp_path / "ddp"), "--steps", "1", "--join-timeout", "2"])
    assert time.monotonic() - start < 30


# ------------------------------------------------------------------ found beyond the list


def test_texts_that_differ_only_in_spacing_or_case_count_as_repeats():
    df = texts_df()
    twin = df.assign(text=df["text"].str.upper() + "  ")  # what the tokenizer reads is the same
    with pytest.warns(UserWarning, match="60 rows repeat the text of an earlier row"):
        data = own_data(pd.concat([df, twin], ignore_index=True))
    first = dict(zip(data.texts[:60], data.splits[:60], strict=True))
    assert all(first[t] == s for t, s in zip(df["text"], data.splits[60:], strict=True))


def test_labels_that_differ_only_in_case_are_warned_about():
    df = texts_df()
    df.loc[::4, "label"] = "Pos"
    with pytest.warns(UserWarning, match=r"differ only in case, \[\['Pos', 'pos'\]\]"):
        assert own_data(df).classes == ("Pos", "neg", "pos")


def test_a_seed_range_of_billions_is_refused_not_built():
    start = time.monotonic()
    with pytest.raises(ValueError, match="at most 1000 seeds"):
        parse_seeds("0-4294967295")
    with pytest.raises(ValueError, match="at most 1000 seeds"):
        parse_seeds("0-600,1000-1500")
    assert time.monotonic() - start < 1 and len(parse_seeds("0-999")) == 1000


def test_a_frozen_or_meta_model_is_named_before_training(one_thread):
    frozen = tiny_model().requires_grad_(False)
    with pytest.raises(ValueError, match="model has no trainable parameters"):
        train_model(frozen, separable(), QUICK, progress=False)
    with torch.device("meta"):
        meta = build_model(TINY)
    with pytest.raises(ValueError, match="model weights are on the meta device"):
        train_model(meta, separable(), QUICK, progress=False)


def test_the_cli_reports_a_held_lock_in_one_line(tmp_path, monkeypatch, capsys):
    import course_lib.experiments.sweep as sweep_module
    from course_lib.__main__ import main

    monkeypatch.setattr(files, "LOCK_WAIT_S", 0.5)
    monkeypatch.setattr(sweep_module, "run_experiment", stand_in)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline().strip() == b"locked"
        argv = [
            "sweep",
            "--preset",
            "fast",
            "--limit",
            "1",
            "--out",
            str(tmp_path / "r.csv"),
            "--quiet",
        ]
        assert main(argv) == 1
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m course_lib: error: results folder")
    assert f"locked by process {holder.pid}" in err[0]


def test_own_data_and_shipped_runs_never_share_a_results_csv(tmp_path):
    out = tmp_path / "r.csv"
    run_sweep([RUN], out, progress=False, run_fn=stand_in)
    before = out.read_bytes()
    data = own_data(texts_df())
    mine = (RT, RUN[1], data)
    with pytest.raises(
        ValueError, match=r"would hold runs on \['dataframe', 'the shipped datasets'\]"
    ):
        run_sweep([mine], out, progress=False, run_fn=stand_in)
    assert out.read_bytes() == before
    assert len(run_sweep([mine], tmp_path / "mine.csv", progress=False, run_fn=stand_in)) == 1
    edited = own_data(texts_df(61))  # the same source, edited: a new hash, the same CSV
    assert (
        len(
            run_sweep(
                [(RT, RUN[1], edited)], tmp_path / "mine.csv", progress=False, run_fn=stand_in
            )
        )
        == 2
    )
