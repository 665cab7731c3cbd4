"""Does sharing make a model faster at the same depth? Measured per plan (notebook 08).

All plans run N layers, so they do the same FLOPs (``course_lib.measure.cost`` proves it exactly);
what changes is how many distinct weights those layers read. Plans:

- ``none``: N blocks of their own, and ``none twin``, an identical copy (the noise floor)
- ``all``: one block used N times (ALBERT)
- ``cycle``: M blocks in the order 0 1 .. M-1 0 1 .. (Takase & Kiyono 2021)
- ``sequence`` with N = 2M: each block twice in a row, MobileLLM's immediate repetition,
  whose weights are still in cache the second time (Liu et al. 2024)

The method is ``course_lib.measure.timing``'s: every measurement times all plans in interleaved
rounds; a plan's ratio is the median over rounds of ``time_none / time_plan`` (> 1: the
plan is faster); the noise floor is how far ``none`` against its twin strays from 1 in the
same rounds, and a plan counts as faster or slower only beyond it. Measured: the forward
pass, the backward pass and the AdamW step of a training step apart (and their sum), and
inference latency at batch 1 and at a large batch. fp32 on CPU, bf16 autocast on CUDA.
Usage::

    python benchmarks/sharing_speed.py --threads 1     # about 1 min on an idle 2-core CPU
    python benchmarks/sharing_speed.py --out results/sharing_cpu.json
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from _common import (  # noqa: E402
    add_run_arguments,
    autocast,
    machine_info,
    print_info,
    set_up_run,
    write_json,
)

from course_lib.config import ModelConfig  # noqa: E402
from course_lib.data.synthetic import synthetic_batch  # noqa: E402
from course_lib.measure.speed_report import timing_results  # noqa: E402
from course_lib.measure.timing import PHASES, TWIN, compare_phases, compare_times  # noqa: E402
from course_lib.nn.counts import count_parameters, parameter_bytes  # noqa: E402
from course_lib.nn.model import build_model  # noqa: E402
from course_lib.training.step import batch_loss  # noqa: E402


def plans(n_layers: int) -> dict[str, dict]:
    if n_layers % 2:
        raise SystemExit(
            f"--n-layers={n_layers} is not allowed: it must be even (sequence uses N = 2M)"
        )
    m = n_layers // 2
    return {
        "none": dict(sharing="none"),
        "all": dict(sharing="all"),
        f"cycle(M={m})": dict(sharing="cycle", n_blocks=m),
        f"sequence(M={m})": dict(sharing="sequence", n_blocks=m),
    }


def train_parts(model, ids, y, device):
    """(model, loss_fn, AdamW) for ``compare_phases``; the forward pass under autocast."""

    def loss_fn():
        with autocast(device):
            return batch_loss(model, ids, y)

    return model, loss_fn, torch.optim.AdamW(model.parameters(), lr=1e-4)


def infer_fn(model, ids, device):
    model.eval()

    def fn():
        with torch.inference_mode(), autocast(device):
            model(ids)

    return fn


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--n-heads", type=int, default=4)
    p.add_argument("--d-ff", type=int, default=1024)
    p.add_argument("--n-layers", type=int, default=8, help="N, even (sequence uses M = N/2)")
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--train-batch", type=int, default=8)
    p.add_argument("--large-batch", type=int, default=None, help="default: 32 on CPU, 256 on CUDA")
    p.add_argument("--attn-impl", choices=("sdpa", "manual"), default="sdpa")
    add_run_arguments(p)  # --repeats --warmup --device --threads --out
    args = p.parse_args(argv)
    device = set_up_run(args)
    args.large_batch = args.large_batch or (256 if device.type == "cuda" else 32)
    base = dict(vocab_size=1000, d_model=args.d_model, n_heads=args.n_heads, d_ff=args.d_ff,
                n_layers=args.n_layers, max_len=args.seq_len, attn_impl=args.attn_impl)  # fmt: skip
    try:
        cfgs = {name: ModelConfig(**base, **extra) for name, extra in plans(args.n_layers).items()}
    except ValueError as err:
        raise SystemExit(f"bad model size: {err}") from None

    info = machine_info(device)
    print_info(info)
    print(f"config: d={args.d_model} heads={args.n_heads} d_ff={args.d_ff} N={args.n_layers} "
          f"seq={args.seq_len} attn={args.attn_impl} train batch={args.train_batch} "
          f"{'bf16 autocast' if device.type == 'cuda' else 'fp32'}")  # fmt: skip
    models = {}
    for name, cfg in cfgs.items():
        torch.manual_seed(0)
        models[name] = build_model(cfg).to(device)
    models = {"none": models["none"], TWIN: copy.deepcopy(models["none"]), **models}
    cfg0 = next(iter(cfgs.values()))
    ids, y = synthetic_batch(cfg0, args.train_batch, args.seq_len, 0, device)
    rounds = dict(warmup=args.warmup, repeats=args.repeats, clock_kind=args.clock)
    steps = {name: train_parts(m, ids, y, device) for name, m in models.items()}
    times = compare_phases(steps, device, **rounds)  # forward, backward, optimizer, step
    for b in (1, args.large_batch):
        batch, _ = synthetic_batch(cfg0, b, args.seq_len, b, device)
        fns = {name: infer_fn(m, batch, device) for name, m in models.items()}
        times[f"latency_b{b}"] = compare_times(fns, device, **rounds)
    results = timing_results(times)
    for name, m in models.items():
        results[name] |= {"unique_params": count_parameters(m),
                          "param_mb": parameter_bytes(m) / 2**20}  # fmt: skip

    whats = [*PHASES, "train_step", "latency_b1", f"latency_b{args.large_batch}"]
    print(f"{'plan':16s} {'params':>10s} {'MB':>6s}" + "".join(f" {w + ' ms':>17s}" for w in whats))
    for name, r in results.items():
        print(f"{name:16s} {r['unique_params']:10,d} {r['param_mb']:6.1f}"
              + "".join(f" {r[w + '_ms']:17.2f}" for w in whats))  # fmt: skip
    print("median over rounds of time_none / time_plan (> 1 = faster than none); noise floor "
          "from none vs its twin in the same rounds:")  # fmt: skip
    for w in whats:
        print(f"  {w:16s} floor ±{results['none'][w + '_floor']:.3f}  " + "  ".join(
            f"{name} {r[w + '_ratio']:.3f} ({r[w + '_verdict']})"
            for name, r in results.items() if name not in ("none", TWIN)))  # fmt: skip
    payload = {"benchmark": "sharing_speed", "method": "interleaved rounds, median of per-round "
               "ratios, noise floor from none vs an identical twin (course_lib.measure.timing)",
               "machine": info, "config": vars(args), "repeats": args.repeats,
               "results": results}  # fmt: skip
    if args.out:
        write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
