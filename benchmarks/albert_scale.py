"""ALBERT's speed table, measured: all-shared vs unshared encoder at ALBERT-base size (issue 13).

ALBERT (Lan et al. 2020, Table 2/3) shares one block across all 12 layers: 1/12 of the
layer parameters, the same FLOPs. This script times both on one GPU at ALBERT-base size
(H 768, 12 layers, 12 heads, d_ff 3072, sequence 512, E 128, vocabulary 30,000; bf16
autocast, SDPA attention): a training step (forward, backward, AdamW), and inference
latency at batch 1 and at a large batch. Notebooks 08 and 11 show the result.

Method (as notebook 08 teaches): three models, interleaved round by round in a rotated
order: ``unshared``, ``all`` and ``unshared_twin``, an identical second unshared model.
Ratios are medians over rounds of ``t_unshared / t_other`` (> 1: faster than unshared);
the twin's ratio measures the noise floor of this very run, and a difference counts only
when it departs from 1 by more than that floor. MFU = counted matmul FLOPs of a training
step (3 x forward) / step time / the GPU's dense bf16 peak (``--peak-tflops``; H100 and
H200 SXM: 989).

    python benchmarks/albert_scale.py --out benchmarks/results/albert_scale_gpu.json   # GPU
    python benchmarks/albert_scale.py --tiny --device cpu    # seconds: checks the script only
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from _common import add_run_arguments, autocast, machine_info, print_info, set_up_run, write_json  # noqa: E402,I001

from sharing_speed import infer_fn  # noqa: E402  (the sibling benchmark's closure)

from course_lib.config import ModelConfig  # noqa: E402
from course_lib.measure.cost import analytic_flops  # noqa: E402
from course_lib.training.step import batch_loss  # noqa: E402
from course_lib.data.synthetic import synthetic_batch  # noqa: E402
from course_lib.nn.counts import count_parameters  # noqa: E402
from course_lib.nn.model import build_model  # noqa: E402
from course_lib.experiments.provenance import PEAK_BF16_FLOPS  # noqa: E402  (dense bf16 peaks)
from course_lib.measure.timing import compare_times, noise_floor, paired_ratio, timing_verdict  # noqa: E402

TINY = dict(vocab_size=100, d_model=32, n_heads=2, d_ff=64, n_layers=2, max_len=16, embed_dim=8)
PLANS = {"unshared": "none", "all": "all", "unshared_twin": "none"}


def peak_tflops(device: torch.device, given: float | None) -> float | None:
    """The dense bf16 peak of the GPU (``--peak-tflops`` wins); None when unknown (CPU)."""
    if given is not None:
        return given
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v / 1e12 for k, v in PEAK_BF16_FLOPS.items() if k in name), None)


def provenance(device: torch.device) -> dict:
    """Machine, versions, date and commit of this run."""
    info = dict(machine_info(device))
    info["utc"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    info["cuda"] = torch.version.cuda or "none"
    root = Path(__file__).resolve().parents[1]
    info["commit"] = os.environ.get("COURSE_GIT_COMMIT", "")  # a copy of the tree has no .git
    for key, cmd in (
        ("commit", ["git", "-C", str(root), "rev-parse", "HEAD"]),
        ("driver", ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]),
    ):
        if info.get(key):
            continue
        try:
            info[key] = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            info[key] = ""
        info[key] = info[key] or "unknown"
    return info


def train_fn(model, ids, y, device):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()

    def fn():
        opt.zero_grad(set_to_none=True)
        with autocast(device):
            loss = batch_loss(model, ids, y)
        loss.backward()
        opt.step()

    return fn


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="a tiny encoder: checks the script on CPU")
    p.add_argument("--seq-len", type=int, default=None, help="default: 512 (tiny: 16)")
    p.add_argument("--train-batch", type=int, default=None, help="default: 32 (tiny: 2)")
    p.add_argument("--large-batch", type=int, default=None, help="default: 64 (tiny: 4)")
    p.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak of the GPU")
    add_run_arguments(p)  # --repeats --warmup --device --threads --out
    args = p.parse_args(argv)
    small = args.tiny
    args.seq_len = args.seq_len or (16 if small else 512)
    args.train_batch = args.train_batch or (2 if small else 32)
    args.large_batch = args.large_batch or (4 if small else 64)
    for name, least in (("seq_len", 1), ("train_batch", 1), ("large_batch", 1), ("repeats", 4)):
        if getattr(args, name) < least:
            flag = "--" + name.replace("_", "-")
            raise SystemExit(f"{flag}={getattr(args, name)} is not allowed: it must be >= {least}")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    device = set_up_run(args)
    size = TINY if args.tiny else {}
    base = ModelConfig.preset("albert_base", **size, task="classify", attn_impl="sdpa")
    if args.seq_len > base.max_len:
        raise SystemExit(f"--seq-len={args.seq_len} is not allowed: at most {base.max_len}")
    info = provenance(device)
    print_info(info)
    models, params = {}, {}
    for name, sharing in PLANS.items():
        torch.manual_seed(0)
        models[name] = build_model(base.replace(sharing=sharing)).to(device)
        params[name] = count_parameters(models[name])
    batches = {
        "train_step": synthetic_batch(base, args.train_batch, args.seq_len, 0, device),
        "latency_b1": synthetic_batch(base, 1, args.seq_len, 1, device),
        f"latency_b{args.large_batch}": synthetic_batch(base, args.large_batch, args.seq_len, 2, device),
    }  # fmt: skip
    results: dict[str, dict] = {}
    for what, (ids, y) in batches.items():
        if what == "train_step":
            fns = {n: train_fn(m, ids, y, device) for n, m in models.items()}
        else:
            fns = {n: infer_fn(m, ids, device) for n, m in models.items()}
        times = compare_times(fns, device, warmup=args.warmup, repeats=args.repeats)
        r = {n: paired_ratio(times["unshared"], t) for n, t in times.items()}
        floor = noise_floor(times["unshared"], times["unshared_twin"])
        results[what] = {
            "median_ms": {n: 1e3 * t.median_s for n, t in times.items()},
            "ratio_vs_unshared": r,  # median over rounds of t_unshared / t_plan
            "noise_floor": floor,
            "all_verdict": timing_verdict(r["all"], floor),  # faster / slower / within noise
        }
    step_flops = 3 * analytic_flops(base, args.train_batch, args.seq_len).total  # fwd + bwd
    peak = peak_tflops(device, args.peak_tflops)
    step_ms = results["train_step"]["median_ms"]
    mfu = {
        n: step_flops / (ms / 1e3) / (peak * 1e12) if peak else None for n, ms in step_ms.items()
    }
    payload = {
        "benchmark": "albert_scale",
        "machine": info,
        "config": {**base.to_dict(), **{k: v for k, v in vars(args).items() if k != "out"}},
        "precision": "bf16 autocast" if device.type == "cuda" else "fp32",
        "unique_params": params,
        "train_step_flops": step_flops,
        "peak_tflops": peak,
        "mfu": mfu,
        "results": results,
    }
    print(f"unique parameters: {params}")
    for what, res in results.items():
        r = res["ratio_vs_unshared"]
        print(f"{what:14s} all/unshared ratio {r['all']:.3f} (noise floor {res['noise_floor']:.3f}:"
              f" {res['all_verdict']}); ms {res['median_ms']}")  # fmt: skip
    print(
        "MFU of the training step: "
        + ", ".join(f"{n} {v:.1%}" if v else f"{n} n/a" for n, v in mfu.items())
    )
    if args.out:
        write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
