"""The second numerical path of `make notebooks-alt` really changes a training run.

`make test` runs every notebook's code a second time under strict nbval on the second path
that ``scripts/second_path.py`` picks (ATen's kernels one instruction set below the
machine's own, see the Makefile). That run only proves
something if the path changes the floating-point results of seeded training, the way another
CPU does (issue 16: notebook 03's loss at steps 50-99 was 0.180 on one CPU, 0.246 on another).
Here a tiny seeded training of notebook 03's kind runs in two subprocesses, native and on the
second path, and the losses must differ; if they ever became equal, the second notebook run
would be a silent copy of the first.
"""

import json
import os
import subprocess
import sys

import pytest
from second_path import second_path  # scripts/ (tests/conftest.py)

KNOBS = ("ATEN_CPU_CAPABILITY", "MKL_CBWR")

TRAIN = """
import json, torch
import torch.nn.functional as F
from course_lib import ModelConfig, build_model
from course_lib.runtime import seed_everything
from course_lib.data.synthetic import order_task
torch.set_num_threads(1)
seed_everything(0)
ids, labels = order_task(512, seq_len=12, vocab_size=12, seed=0).tensors
cfg = ModelConfig(vocab_size=12, d_model=32, n_heads=2, d_ff=64, n_layers=2, max_len=12)
model = build_model(cfg)
opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
g = torch.Generator().manual_seed(0)
losses = []
for _ in range(30):
    idx = torch.randint(0, len(ids), (64,), generator=g)
    loss = F.cross_entropy(model(ids[idx]), labels[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(),
                  "mkl": torch.backends.mkl.is_available(), "losses": losses}))
"""


def _start(extra_env: dict[str, str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in KNOBS}
    env.update(OMP_NUM_THREADS="1", **extra_env)
    return subprocess.Popen(
        [sys.executable, "-c", TRAIN], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _result(run: subprocess.Popen) -> dict:
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, f"the training subprocess failed:\n{err.decode()[-2000:]}"
    return json.loads(out.decode().strip().splitlines()[-1])


def test_the_path_is_one_instruction_set_below_the_native_one():
    assert second_path("AVX512") == {"ATEN_CPU_CAPABILITY": "avx2"}
    assert second_path("AVX2") == {"ATEN_CPU_CAPABILITY": "default"}
    assert second_path("SVE256") == {"ATEN_CPU_CAPABILITY": "default"}
    assert second_path("DEFAULT") == {"MKL_CBWR": "COMPATIBLE"}


def test_second_path_changes_a_training_trajectory():
    native = _result(_start({}))  # its capability chooses the second path
    alt_env = second_path(native["capability"])
    alt = _result(_start(alt_env))
    if "ATEN_CPU_CAPABILITY" in alt_env:
        assert alt["capability"] == alt_env["ATEN_CPU_CAPABILITY"].upper(), (
            f"{alt_env} did not take effect: torch reports {alt['capability']}"
        )
    elif not native["mkl"]:
        pytest.skip("this CPU has no vectorised ATen kernels and no MKL: one numerical path only")
    assert all(0.0 < x < 5.0 for x in native["losses"] + alt["losses"]), (
        "the tiny training gave a loss outside (0, 5): "
        f"native {native['losses']}, second path {alt['losses']}"
    )
    gap = max(abs(a - b) for a, b in zip(native["losses"], alt["losses"], strict=True))
    assert gap > 0, (
        f"native ({native['capability']}) and second-path ({alt_env}) losses are identical "
        "over 30 steps: `make notebooks-alt` would only repeat `make notebooks`"
    )
