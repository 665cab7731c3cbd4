"""course_lib.training.checkpoints: save and load keep sharing, refuse what could never load,
write atomically and name the file when it is damaged.

The catalogue of single bad files (missing keys, wrong version, another plan ...) is in
test_bad_inputs; test_train covers one round trip and loading into a built model. Here:
every sharing strategy, the file's own storage, the refusals made *before* writing, and
damage at any point of the file.
"""

import itertools
from pathlib import Path

import pytest
import torch

from course_lib.config import BLOCK_STRATEGIES, SHARING_STRATEGIES, ModelConfig
from course_lib.files import TEMP_SUFFIX, temp_files
from course_lib.nn.counts import shared_groups
from course_lib.nn.model import build_model
from course_lib.training import checkpoints
from course_lib.training.checkpoints import (
    CHECKPOINT_FORMAT,
    check_config_fits,
    load_checkpoint,
    save_checkpoint,
    state_bytes,
)


def cfg(sharing="none", task="lm", **kw):
    m = 2 if sharing in BLOCK_STRATEGIES else None
    base = dict(vocab_size=30, d_model=16, n_heads=2, d_ff=24, n_layers=4, max_len=8)
    return ModelConfig(**{**base, "sharing": sharing, "n_blocks": m, "task": task, **kw})


def ids():
    return torch.randint(0, 30, (2, 8), generator=torch.Generator().manual_seed(0))


def groups_by_storage(state):
    by_ptr = {}
    for name, t in state.items():
        by_ptr.setdefault(t.untyped_storage().data_ptr(), set()).add(name)
    return sorted(sorted(g) for g in by_ptr.values() if len(g) > 1)


# ------------------------------------------------------------------ round trip


@pytest.mark.parametrize("sharing", SHARING_STRATEGIES)
def test_round_trip_keeps_sharing_for_every_strategy(tmp_path, sharing):
    c = cfg(sharing, tie_embeddings=sharing == "all")
    torch.manual_seed(0)
    model = build_model(c).eval()
    path = save_checkpoint(tmp_path / "m.pt", model, c)
    loaded, c2 = load_checkpoint(path)
    assert c2 == c
    assert shared_groups(loaded) == shared_groups(model)  # same names alias one tensor
    params = dict(loaded.named_parameters(remove_duplicate=False))
    for group in shared_groups(loaded):  # ... and one storage, not equal copies
        assert len({params[n].data_ptr() for n in group}) == 1, group
    A, B = loaded.stack.layers, model.stack.layers
    for i, j in itertools.combinations(range(c.n_layers), 2):
        assert (A[i].attn is A[j].attn) == (B[i].attn is B[j].attn)
        assert (A[i].ffn is A[j].ffn) == (B[i].ffn is B[j].ffn)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(ids()), model(ids()))


@pytest.mark.parametrize("sharing", ["all", "attention", "cycle"])
def test_the_file_stores_a_shared_tensor_once(tmp_path, sharing):
    c = cfg(sharing)
    model = build_model(c)
    path = save_checkpoint(tmp_path / "m.pt", model, c)
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == CHECKPOINT_FORMAT and payload["config"] == c.to_dict()
    assert payload["state_dict"].keys() == model.state_dict().keys()
    assert groups_by_storage(payload["state_dict"]) == groups_by_storage(model.state_dict())
    # the file is about as big as the unique tensors, not as the names
    names_bytes = sum(t.nbytes for t in model.state_dict().values())
    assert state_bytes(model) < names_bytes
    assert state_bytes(model) <= path.stat().st_size < state_bytes(model) + 64_000


def test_a_trained_model_round_trips_its_trained_weights(tmp_path):
    """After optimiser steps the shared tensor has moved: the file holds the moved values."""
    c = cfg("cycle")
    torch.manual_seed(0)
    model = build_model(c)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(3):
        x = ids()
        loss = torch.nn.functional.cross_entropy(
            model(x)[:, :-1].reshape(-1, 30), x[:, 1:].reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "t.pt", model, c))
    fresh = build_model(c)
    w = "stack.layers.2.attn.fn.q_proj.weight"  # layer 2 uses block 0 under cycle, M=2
    assert torch.equal(loaded.state_dict()[w], model.state_dict()[w])
    assert not torch.equal(loaded.state_dict()[w], fresh.state_dict()[w])
    assert loaded.stack.layers[0] is loaded.stack.layers[2]


def test_save_returns_the_path_and_accepts_str_and_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    c = cfg()
    out = save_checkpoint("~/m.pt", build_model(c), c)
    assert out == tmp_path / "m.pt" and out.is_file()
    assert load_checkpoint("~/m.pt")[1] == c
    assert (out.stat().st_mode & 0o777) == 0o644 & ~_umask()


def _umask():
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


# ------------------------------------------------------------------ configs that do not fit


def test_a_config_of_another_model_is_refused_before_writing(tmp_path):
    model = build_model(cfg("none"))
    path = tmp_path / "m.pt"
    with pytest.raises(
        ValueError,
        match=r"m\.pt is not allowed: cfg does not describe this model; .*'sharing': \('all', 'none'\)",
    ):
        save_checkpoint(path, model, cfg("all"))
    assert list(tmp_path.iterdir()) == []


def test_a_config_that_shares_what_the_model_does_not_is_refused(tmp_path):
    """The model claims cfg 'all' but its layers hold separate tensors: a file of it
    would load into a model with one tensor and lose three layers' weights."""
    model = build_model(cfg("none"))
    model.cfg = cfg("all")  # a lie the same shapes cannot reveal
    with pytest.raises(
        ValueError,
        match=r"could never be loaded, cfg shares stack\.layers\.0\..* with stack\.layers\.1\..*"
        r"the model does not \(cfg\.sharing='all'",
    ):
        save_checkpoint(tmp_path / "m.pt", model, cfg("all"))
    assert list(tmp_path.iterdir()) == []


def test_a_model_without_cfg_is_checked_by_its_tensors():
    model = build_model(cfg())
    del model.cfg
    check_config_fits(model, cfg(), "here")  # fits: no error
    with pytest.raises(
        ValueError,
        match=r"^here is not allowed: .*has shape \(24, 16\), the model needs \(32, 16\)",
    ):
        check_config_fits(model, cfg(d_ff=32), "here")
    with pytest.raises(
        ValueError, match=r"^here is not allowed: .*missing \['head\.bias', 'head\.weight'\]"
    ):
        check_config_fits(model, cfg(task="classify"), "here")


def test_loading_into_a_model_of_another_size_names_the_field(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", build_model(cfg()), cfg())
    with pytest.raises(
        ValueError, match=r"m\.pt was saved with a different config; .*'d_model': \(16, 32\)"
    ):
        load_checkpoint(path, model=build_model(cfg(d_model=32)))


# ------------------------------------------------------------------ atomic writes


def test_a_failed_first_save_leaves_no_file_at_all(tmp_path, monkeypatch):
    real_save = torch.save

    def dies_half_way(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        with open(f, "r+b") as fh:
            fh.truncate(50)
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoints.torch, "save", dies_half_way)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(tmp_path / "m.pt", build_model(cfg()), cfg())
    assert list(tmp_path.iterdir()) == []  # neither m.pt nor a temp file


def test_a_temp_file_left_by_a_killed_save_is_removed_by_the_next(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, build_model(cfg()), cfg())
    # what atomic_write leaves when killed: its prefix, a PID that runs no more, the suffix
    dead_pid = 2**22 + 12345  # above Linux's largest pid_max: no process has it
    orphan = tmp_path / f"m.pt.{dead_pid}.abc{TEMP_SUFFIX}"
    orphan.write_bytes(b"half")
    assert temp_files(path) == [orphan]
    save_checkpoint(path, build_model(cfg("all")), cfg("all"))
    assert not orphan.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
    assert load_checkpoint(path)[1] == cfg("all")


def test_a_save_never_overwrites_a_file_it_did_not_write(tmp_path):
    csv = tmp_path / "results.csv"
    csv.write_text("run,loss\n1,0.5\n")
    with pytest.raises(
        ValueError,
        match=r"results\.csv'? is not allowed: it holds a file that is not a course_lib checkpoint",
    ):
        save_checkpoint(csv, build_model(cfg()), cfg())
    assert csv.read_text() == "run,loss\n1,0.5\n"
    plain = tmp_path / "plain.pt"  # a torch file, but not ours
    torch.save({"w": torch.zeros(2)}, plain)
    with pytest.raises(ValueError, match="not a course_lib checkpoint"):
        save_checkpoint(plain, build_model(cfg()), cfg())
    ours = save_checkpoint(tmp_path / "ours.pt", build_model(cfg()), cfg())
    save_checkpoint(ours, build_model(cfg("all")), cfg("all"))  # our own file: replaced
    assert load_checkpoint(ours)[1] == cfg("all")


# ------------------------------------------------------------------ damaged files


def test_a_file_cut_anywhere_gives_a_clear_error(tmp_path):
    good = save_checkpoint(tmp_path / "good.pt", build_model(cfg()), cfg())
    data = good.read_bytes()
    for k, cut in enumerate(sorted({0, 1, 10, 100, *range(0, len(data), len(data) // 12)})):
        if cut >= len(data):
            continue
        bad = tmp_path / f"cut{k}.pt"
        bad.write_bytes(data[:cut])
        with pytest.raises(
            ValueError,
            match=rf"^checkpoint .*cut{k}\.pt is corrupt or not a course_lib checkpoint \(",
        ):
            load_checkpoint(bad)


def test_a_damaged_file_is_reported_whole_not_as_a_traceback(tmp_path):
    good = save_checkpoint(tmp_path / "good.pt", build_model(cfg()), cfg())
    data = bytearray(good.read_bytes())
    data[:4] = b"JUNK"  # the zip header
    bad = tmp_path / "bad.pt"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError) as info:
        load_checkpoint(bad)
    message = str(info.value)
    assert "bad.pt" in message and "\n" not in message and len(message) < 400
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_folder_is_not_a_checkpoint(tmp_path):
    (tmp_path / "dir.pt").mkdir()
    with pytest.raises(ValueError, match=r"dir\.pt does not exist \(or is not a file\)"):
        load_checkpoint(tmp_path / "dir.pt")


def test_load_accepts_str_and_path_alike(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", build_model(cfg()), cfg())
    assert load_checkpoint(str(path))[1] == load_checkpoint(Path(path))[1] == cfg()
