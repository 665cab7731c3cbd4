"""When is sharing faster? One decoding step as the weights outgrow the CPU's caches.

``course_lib.measure.cache_speed.cache_experiment`` at more widths and rounds than notebook 08
runs: for each width d, ``none`` (N blocks), ``all`` (one block N times) and an identical
twin of ``none`` (the noise floor) take one decoding step (one new token per sequence)
at batch 1 and at a large batch, interleaved; same FLOPs throughout, only the distinct
weight bytes differ. Prints the machine's cache sizes, the table and the conclusion that
the numbers support. CPU only (the caches are the CPU's). Usage::

    python benchmarks/cache_speed.py --threads 1 --out benchmarks/results/cache_speed_cpu.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from _common import add_run_arguments, machine_info, print_info, set_up_run, write_json  # noqa: E402

from course_lib.measure.cache_speed import (  # noqa: E402
    cache_experiment,
    cache_sizes,
    conclusion_holds,
    conclusion_text,
    summarise,
)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128, 256, 384, 512, 768, 1024])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    p.add_argument("--n-layers", type=int, default=8)
    p.add_argument("--min-call-ms", type=float, default=20.0, help="repeat a step up to this")
    add_run_arguments(p)  # --repeats --warmup --device --threads --out --clock
    args = p.parse_args(argv)
    device = set_up_run(args)
    if device.type != "cpu":
        raise SystemExit("--device must be cpu: this benchmark measures the CPU's caches")
    info = machine_info(device)
    caches = cache_sizes()
    print_info(info)
    print("caches:", ", ".join(f"{k} {v / 2**20:g} MiB" for k, v in caches.items()) or "unknown")
    table = cache_experiment(args.widths, args.n_layers, args.batches, args.repeats,
                             args.warmup, min_call_s=args.min_call_ms / 1e3,
                             clock_kind=args.clock)  # fmt: skip
    print(table.round(3).to_string(index=False))
    summary = summarise(table, caches)
    assert conclusion_holds(summary, table)
    print(conclusion_text(summary))
    payload = {"benchmark": "cache_speed", "machine": info, "caches_bytes": caches,
               "config": vars(args), "results": table.to_dict(orient="records")}  # fmt: skip
    if args.out:
        write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
