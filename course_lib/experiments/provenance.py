"""Where and how a sweep ran: the provenance JSON written beside every results CSV (06, 08).

``sweep_provenance(df, preset)`` records the device (the CPU model or the GPU), torch, CUDA and
Python versions, the date, the git commit, the seeds and the exact command, never the
hostname, plus the model FLOPs utilisation (MFU) of the sweep's largest configuration:
6 x parameters x tokens/s over the GPU's dense bf16 peak (Kaplan et al. 2020, *Scaling
Laws for Neural Language Models*, for the 6N estimate).
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from course_lib.runtime import GIT_COMMIT_ENV, REPO_ROOT

# Dense bf16 peak of the SXM parts (NVIDIA data sheets), the MFU denominator.
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def git_commit() -> str | None:
    """HEAD of the checkout, or COURSE_GIT_COMMIT where the code runs outside one (a copy
    of the tree sent to a GPU machine)."""
    if os.environ.get(GIT_COMMIT_ENV):
        return os.environ[GIT_COMMIT_ENV]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def cpu_name() -> str:
    """The CPU model as the OS names it (Linux /proc/cpuinfo), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_label() -> str:
    """The device a sweep runs on, as its provenance names it: a GPU or ``cpu (arch)``."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu ({platform.machine()})"


def mfu(record: dict[str, Any], params: str = "per_use_params") -> float | None:
    """Model FLOPs utilisation: 6 x parameters x tokens/s / the GPU's dense bf16 peak."""
    peak = next((v for k, v in PEAK_BF16_FLOPS.items() if k in str(record["device_name"])), None)
    if peak is None or not str(record["device"]).startswith("cuda"):
        return None
    return 6 * record[params] * record["tokens_per_s"] / peak


def _plain(value: Any) -> Any:
    """A NumPy scalar (as pandas hands out) as the Python number JSON can hold."""
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and value != value else value  # NaN -> null


def sweep_provenance(
    df: pd.DataFrame, preset: str | None, command: str | None = None, n_failed: int = 0
) -> dict[str, Any]:
    """Where and how a sweep ran (no hostname), plus the MFU of its largest configuration."""
    cuda = torch.cuda.is_available()
    info: dict[str, Any] = {
        "preset": preset,
        "command": command,
        "device": device_label(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "python": platform.python_version(),
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "git_commit": git_commit(),
        "n_records": len(df),
        "n_failed": n_failed,
        "seeds": sorted({int(s) for s in df["seed"].dropna()}) if "seed" in df.columns else [],
    }
    work = pd.Series(dtype=float)
    if {"per_use_params", "batch_size", "max_len"} <= set(df.columns):
        work = (df["per_use_params"] * df["batch_size"] * df["max_len"]).dropna()  # per step
    if len(work):
        big = df.loc[work.idxmax()].to_dict()
        keys = ("name", "dataset", "per_use_params", "matmul_params", "tokens_per_s", "device_name")
        info["largest"] = {k: _plain(big.get(k)) for k in keys}
        for label, params in (("mfu", "per_use_params"), ("mfu_matmul", "matmul_params")):
            value = mfu(big, params)
            info["largest"][label] = None if value is None else round(value, 4)
    info["mfu_assumption"] = (
        "mfu = 6 * per_use_params * tokens_per_s / peak (embedding lookups counted as if "
        "matmuls); mfu_matmul uses matmul_params (lookups excluded); attention-score FLOPs "
        f"(about 12*N*T*d per token) ignored; peak = dense bf16 of the SXM part {PEAK_BF16_FLOPS}; "
        "None on CPU or an unknown GPU"
    )
    return info
