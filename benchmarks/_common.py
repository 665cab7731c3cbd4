"""Shared bits of the benchmarks: machine description, JSON results, device and autocast."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import tempfile
from pathlib import Path

import torch

from course_lib.experiments.provenance import cpu_name  # the same CPU name the sweeps record


def machine_info(device: torch.device) -> dict[str, str | int]:
    info: dict[str, str | int] = {
        "date": dt.date.today().isoformat(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count() or 0,
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else -1,
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def print_info(info: dict) -> None:
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))


def add_run_arguments(p) -> None:
    """The options every benchmark takes: repeats, warm-up, device, threads, output file."""
    p.add_argument("--repeats", type=int, default=11)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    p.add_argument("--out", default=None, help="write the results as JSON to this file")
    p.add_argument("--clock", choices=("wall", "thread"), default="wall",
                   help="wall: time a user waits; thread: CPU time of this thread only, which "
                        "time slices taken by other processes do not inflate (CPU, --threads 1)")  # fmt: skip


def set_up_run(args) -> torch.device:
    """Apply ``--threads`` and return the device ``--device`` names."""
    device = pick_device(args.device)
    if getattr(args, "clock", "wall") == "thread" and device.type != "cpu":
        raise SystemExit("--clock=thread is not allowed on a GPU: it would miss the GPU's time")
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f"--threads={args.threads} is not allowed: it must be >= 1")
        torch.set_num_threads(args.threads)
    return device


def pick_device(name: str) -> torch.device:
    if name not in ("auto", "cpu", "cuda"):
        raise SystemExit(f"--device={name!r} is not allowed: choose auto, cpu or cuda")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device=cuda was asked for but torch sees no CUDA GPU")
    return torch.device(name)


def autocast(device: torch.device):
    """bf16 autocast on CUDA (what the course trains with there); plain fp32 on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def write_json(path: str, payload: dict) -> None:
    """Write ``payload`` to ``path`` atomically (temp file in the same folder + os.replace)."""
    target = Path(path)
    if target.exists() and target.is_dir():
        raise SystemExit(f"--out={path!r} is a folder: give a file name such as results.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
    os.replace(tmp, target)
    print(f"wrote {target}")
