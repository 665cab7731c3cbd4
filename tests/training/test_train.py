"""Training loop, evaluation and checkpoints (course_lib.training.train)."""

import pytest
import torch

from course_lib import ModelConfig, TrainConfig, build_model, seed_everything, shares_storage
from course_lib.data.shipped import char_lm_tensors, classification_tensors
from course_lib.training.checkpoints import load_checkpoint, save_checkpoint
from course_lib.training.train import evaluate, lr_at, train_model

# The FAST settings notebook 06 uses: > 65% test accuracy in a few CPU seconds.
RT_VOCAB, RT_LEN = 4000, 32
RT_MODEL = dict(vocab_size=RT_VOCAB, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=RT_LEN)
RT_TRAIN = TrainConfig(steps=150, batch_size=64, lr=3e-3, warmup_steps=15, device="cpu")


def tiny(**changes):
    base = dict(vocab_size=50, d_model=16, n_heads=2, d_ff=32, n_layers=4, max_len=12)
    return ModelConfig(**{**base, **changes})


def toy_data(n=64, t=12, vocab=50):
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (n,), generator=g)
    half = vocab // 2
    x = torch.randint(2, half, (n, t), generator=g) + y[:, None] * (half - 2)  # class = word set
    return torch.utils.data.TensorDataset(x, y)


def test_lr_warms_up_then_decays_to_ten_percent():
    cfg = TrainConfig(steps=100, lr=1.0, warmup_steps=10)
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(10, cfg) == pytest.approx(1.0)
    lrs = [lr_at(s, cfg) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))
    assert lr_at(100, cfg) == pytest.approx(0.1)
    assert lr_at(0, TrainConfig(steps=5, lr=2.0, warmup_steps=0)) == pytest.approx(2.0)


def test_rotten_tomatoes_well_above_chance(one_thread):
    train, val, test, tok = classification_tensors(RT_VOCAB, RT_LEN)
    seed_everything(0)
    model = build_model(ModelConfig(**RT_MODEL, sharing="all"))
    hist = train_model(model, train, RT_TRAIN, eval_ds=val, progress=False)
    majority = test.tensors[1].float().mean().item()  # 57.8% fresh
    acc = evaluate(model, test)["accuracy"]
    assert acc >= 0.65 and acc > majority + 0.05, (acc, majority)
    assert hist["eval"][-1]["step"] == 150 and hist["eval"][-1]["accuracy"] >= 0.65
    assert hist["train_time_s"] < 30 and hist["tokens_per_s"] > 0
    assert hist["peak_mem_mb"] is None and hist["device"] == "cpu"
    assert sum(hist["loss"][-20:]) / 20 < sum(hist["loss"][:20]) / 20


def test_same_seed_same_history(one_thread):
    runs = []
    for _ in range(2):
        seed_everything(0)
        model = build_model(tiny(sharing="cycle", n_blocks=2, dropout=0.1))
        cfg = TrainConfig(steps=8, batch_size=16, seed=3, warmup_steps=2, device="cpu")
        runs.append(train_model(model, toy_data(), cfg, progress=False)["loss"])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
def test_each_optimizer_learns_the_toy_task(optimizer, one_thread):
    seed_everything(0)
    model = build_model(tiny(n_layers=1))
    lr = 0.1 if optimizer == "sgd" else 3e-3
    cfg = TrainConfig(steps=60, batch_size=32, lr=lr, optimizer=optimizer, device="cpu")
    ds = toy_data(n=256)
    hist = train_model(model, ds, cfg, eval_ds=ds, progress=False)
    assert hist["eval"][-1]["accuracy"] > 0.8, optimizer


def test_char_lm_loss_per_token_drops(one_thread):
    train, val, tok = char_lm_tensors(block_size=32)
    seed_everything(0)
    cfg = ModelConfig(
        vocab_size=tok.vocab_size, d_model=32, n_heads=2, d_ff=64, n_layers=2, max_len=32,
        task="lm", tie_embeddings=True, sharing="all",
    )  # fmt: skip
    model = build_model(cfg)
    before = evaluate(model, val, task="lm")["loss"]
    assert before == pytest.approx(torch.log(torch.tensor(tok.vocab_size)).item(), abs=0.3)
    tcfg = TrainConfig(steps=60, batch_size=32, lr=3e-3, device="cpu")
    hist = train_model(model, train, tcfg, eval_ds=val, task="lm", progress=False)
    assert "accuracy" not in hist["eval"][-1]
    assert hist["eval"][-1]["loss"] < before - 1.0
    overall = 60 * 32 * 32 / hist["train_time_s"]  # tokens_per_s leaves out 3 warm-up steps
    assert 0.5 * overall < hist["tokens_per_s"] < 2 * overall


def test_bad_arguments_name_the_field():
    model = build_model(tiny())
    with pytest.raises(ValueError, match="^task='regress'"):
        train_model(model, toy_data(), TrainConfig(steps=1, warmup_steps=0), task="regress")
    with pytest.raises(ValueError, match="^train_cfg=dict"):
        train_model(model, toy_data(), {"steps": 1})


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip_keeps_sharing_and_outputs(tmp_path):
    cfg = tiny(sharing="all", task="lm", tie_embeddings=True)
    seed_everything(0)
    model = build_model(cfg)
    path = save_checkpoint(tmp_path / "ck.pt", model, cfg)
    loaded, cfg2 = load_checkpoint(path)
    assert cfg2 == cfg and [p.name for p in tmp_path.iterdir()] == ["ck.pt"]
    layers = loaded.stack.layers
    assert layers[0] is layers[3]
    assert shares_storage(loaded.lm_head.weight, loaded.embed.tok_emb.weight)
    x = torch.randint(0, 50, (3, 12))
    model.eval(), loaded.eval()
    assert torch.equal(model(x), loaded(x))  # bit-identical
    # stored once: a 4-layer shared model's file is smaller than an unshared one's
    none_path = save_checkpoint(tmp_path / "none.pt", build_model(tiny(task="lm")), tiny(task="lm"))
    assert path.stat().st_size < 0.6 * none_path.stat().st_size


def test_load_into_existing_model(tmp_path):
    cfg = tiny(sharing="cycle", n_blocks=2)
    seed_everything(1)
    model = build_model(cfg)
    save_checkpoint(tmp_path / "c.pt", model, cfg)
    seed_everything(2)
    target = build_model(cfg)
    load_checkpoint(tmp_path / "c.pt", model=target)
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), target.parameters(), strict=True)
    )
    assert target.stack.layers[0] is target.stack.layers[2]


def test_missing_and_corrupt_checkpoints_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"checkpoint .*nope\.pt does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match=r"checkpoint .*junk\.pt is corrupt"):
        load_checkpoint(junk)
    cfg = tiny()
    good = save_checkpoint(tmp_path / "good.pt", build_model(cfg), cfg)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"checkpoint .*cut\.pt is corrupt"):
        load_checkpoint(cut)


def test_missing_keys_and_bad_config_are_named(tmp_path):
    cfg = tiny()
    state = build_model(cfg).state_dict()
    torch.save(
        {"format": "course_lib.checkpoint", "version": 1, "state_dict": state}, tmp_path / "a.pt"
    )
    with pytest.raises(ValueError, match=r"a\.pt lacks key\(s\) \['config'\]"):
        load_checkpoint(tmp_path / "a.pt")
    bad = {**cfg.to_dict(), "sharing": "some"}
    payload = {"format": "course_lib.checkpoint", "version": 1, "config": bad, "state_dict": state}
    torch.save(payload, tmp_path / "b.pt")
    with pytest.raises(ValueError, match=r"b\.pt has an invalid config: sharing='some'"):
        load_checkpoint(tmp_path / "b.pt")
    del state["head.bias"]
    payload = {
        "format": "course_lib.checkpoint",
        "version": 1,
        "config": cfg.to_dict(),
        "state_dict": state,
    }
    torch.save(payload, tmp_path / "c.pt")
    with pytest.raises(ValueError, match=r"c\.pt does not fit the model: missing \['head\.bias'\]"):
        load_checkpoint(tmp_path / "c.pt")


def test_checkpoint_of_another_plan_or_shape_is_refused(tmp_path):
    none_cfg = tiny(sharing="none")
    path = save_checkpoint(tmp_path / "none.pt", build_model(none_cfg), none_cfg)
    with pytest.raises(ValueError, match=r"none\.pt was saved with a different config.*'sharing'"):
        load_checkpoint(path, model=build_model(tiny(sharing="all")))
    # same keys and shapes, but the file's config claims a plan the tensors do not follow
    payload = torch.load(path, weights_only=True)
    payload["config"]["sharing"] = "all"
    torch.save(payload, tmp_path / "lie.pt")
    with pytest.raises(
        ValueError, match=r"lie\.pt: stack\.layers\.1\..* differs from stack\.layers\.0"
    ):
        load_checkpoint(tmp_path / "lie.pt")
    payload["config"].update(sharing="none", d_ff=48)
    torch.save(payload, tmp_path / "shape.pt")
    with pytest.raises(
        ValueError, match=r"shape\.pt .*has shape \(32, 16\), the model needs \(48, 16\)"
    ):
        load_checkpoint(tmp_path / "shape.pt")
