"""DDP with a shared (cycle) model: 2 CPU processes under torchrun, gloo backend."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_lib import count_parameters, count_parameters_per_use
from course_lib.training import distributed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "course_lib.training.distributed", "--steps", "4", "--out", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    distributed.main(["--steps", "4", "--reference", "2", "--out", str(out)])
    return out


def load(out: Path, name: str):
    report = json.loads((out / f"{name}.json").read_text())
    return report, torch.load(out / f"{name}.pt", weights_only=True)


def test_both_ranks_end_with_identical_weights(ddp_run):
    (r0, s0), (r1, s1) = load(ddp_run, "rank0"), load(ddp_run, "rank1")
    assert r0["world_size"] == r1["world_size"] == 2 and r0["ddp"]
    assert r0["weights_sha256"] == r1["weights_sha256"]
    assert s0.keys() == s1.keys()
    assert all(torch.equal(s0[k], s1[k]) for k in s0)
    assert r0["losses"] != r1["losses"]  # each rank really saw its own shard


def test_ddp_matches_one_process_on_all_shards(ddp_run):
    # gradients of a tensor used at two depths are summed over uses, then averaged
    # over ranks: the same update as one process on the concatenated batch
    _, s0 = load(ddp_run, "rank0")
    ref, sr = load(ddp_run, "reference")
    torch.manual_seed(0)
    start = distributed.build_model(
        distributed.model_config(distributed.parse_args(["--out", "x"]))
    )
    moved = max((s0[k] - start.state_dict()[k]).abs().max().item() for k in s0)
    assert moved > 1e-3  # training changed the weights ...
    for k in s0:  # ... in the same way in both set-ups
        torch.testing.assert_close(s0[k], sr[k], atol=1e-4, rtol=1e-4)


def test_shared_tensors_stay_shared_after_ddp(ddp_run):
    r0, s0 = load(ddp_run, "rank0")
    assert r0["shared_depths_intact"] and r0["sharing"] == "cycle"
    # cycle with M=2 over 4 layers: layers 0 and 2 are one block; torch.save kept the alias
    a, b = s0["stack.layers.0.attn.fn.q_proj.weight"], s0["stack.layers.2.attn.fn.q_proj.weight"]
    assert a.data_ptr() == b.data_ptr()
    c = s0["stack.layers.1.attn.fn.q_proj.weight"]
    assert a.data_ptr() != c.data_ptr()
    # DDP's reducer all-reduces each unique tensor once, not once per use
    model = distributed.build_model(
        distributed.model_config(distributed.parse_args(["--out", "x"]))
    )
    assert r0["allreduce_bytes"] == 4 * count_parameters(model)
    assert r0["allreduce_bytes"] < 4 * count_parameters_per_use(model)


def test_clear_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit, match="torchrun"):
        distributed.main(["--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="n_blocks"):
        distributed.main(["--n-blocks", "9", "--out", str(tmp_path)])
    (tmp_path / "f").write_text("")
    with pytest.raises(SystemExit, match="is a file"):
        distributed.main(["--out", str(tmp_path / "f")])
    with pytest.raises(SystemExit):
        distributed.parse_args(["--steps", "0", "--out", str(tmp_path)])
