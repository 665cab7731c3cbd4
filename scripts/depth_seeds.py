"""Notebook 09's two experiments over several seeds, on the CPU, with provenance.

    OMP_NUM_THREADS=1 python scripts/depth_seeds.py --seeds 0-4

writes data/results/depth_text_cpu_seeds.csv (section 1: none N3, cycle N6 M3, sequence
N6 M3 on Rotten Tomatoes, via ``course_lib.experiments.sweep.run_sweep``, resumable) and
data/results/looped_copy_cpu_seeds.csv (section 4: looped ACT vs unshared on copy), each
with a provenance JSON beside it. Notebook 09 reads them, so that its comparisons carry 95%
intervals (``course_lib.measure.stats``), and draws the learner's live seed-0 run beside them as one
more draw: the same seed repeats exactly only on the same CPU and numerical path.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.experiments.depth import LOOPED_SEEDS_CSV, TEXT_SEEDS_CSV, looped_rows, text_runs  # noqa: E402
from course_lib.experiments.presets import parse_seeds  # noqa: E402
from course_lib.experiments.provenance import sweep_provenance  # noqa: E402
from course_lib.experiments.sweep import run_sweep  # noqa: E402
from course_lib.files import atomic_write  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--out-dir", default=str(ROOT / "data" / "results"))
    p.add_argument("--only", choices=("text", "looped"), default=None)
    args = p.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    torch.set_num_threads(1)  # as the notebook: one thread
    out = Path(args.out_dir)
    command = "python scripts/depth_seeds.py " + " ".join(argv or sys.argv[1:])
    if args.only in (None, "text"):
        cfgs, train = text_runs("FAST")
        runs = [(cfg, train, "rotten_tomatoes") for cfg in cfgs.values()]
        run_sweep(runs, out / TEXT_SEEDS_CSV, progress=False, seeds=seeds, command=command)
    if args.only in (None, "looped"):
        rows = []
        for seed in seeds:
            rows += looped_rows(seed)
            print(f"looped seed {seed} done", flush=True)
        df = pd.DataFrame(rows)
        path = out / LOOPED_SEEDS_CSV
        atomic_write(path, df.to_csv(index=False))
        info = sweep_provenance(df, None, command)
        atomic_write(path.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
