"""Notebook 13's two experiments over several seeds, on the CPU, with provenance.

    OMP_NUM_THREADS=1 python scripts/depth_on_demand_seeds.py --seeds 0-4

writes data/results/depth_on_demand_cpu_seeds.csv (part "mor": Mixture-of-Recursions and
fixed looping on Rotten Tomatoes; part "loops": random-depth vs fixed-depth training on
prefix parity at 1-16 test-time loops, and the iso-parameter / iso-FLOP unshared models;
see ``course_lib.experiments.ondemand``) and the provenance JSON beside it. The CSV is rewritten after
every seed, so a stopped run keeps the seeds it finished. Notebook 13 reads it, so that its
comparisons carry 95% intervals over seeds (``course_lib.measure.stats``).
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

from course_lib.experiments.ondemand import SEEDS_CSV, seed_rows  # noqa: E402
from course_lib.experiments.presets import parse_seeds  # noqa: E402
from course_lib.experiments.provenance import sweep_provenance  # noqa: E402
from course_lib.files import atomic_write  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--out-dir", default=str(ROOT / "data" / "results"))
    args = p.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    torch.set_num_threads(1)  # as the notebook: one thread
    path = Path(args.out_dir) / SEEDS_CSV
    command = "python scripts/depth_on_demand_seeds.py " + " ".join(argv or sys.argv[1:])
    rows: list[dict] = []
    for seed in seeds:
        rows += seed_rows(seed)
        df = pd.DataFrame(rows)
        atomic_write(path, df.to_csv(index=False))
        info = sweep_provenance(df, None, command)
        atomic_write(path.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
        print(f"seed {seed} done: {len(df)} rows in {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
