"""Notebook 12's two experiments over several seeds, on the CPU, with provenance.

    OMP_NUM_THREADS=1 python scripts/recursive_seeds.py --seeds 0-4

writes data/results/recursive_cpu_seeds.csv and a provenance JSON beside it: per seed, one
unshared classifier trained on the Rotten Tomatoes reviews (FAST settings), converted into a
relaxed recursive model at every rank (stepwise and average; a few ranks uptrained and
trained from scratch) and compressed by Basis Sharing and by per-layer SVD
(``course_lib.experiments.conversion.seed_rows``). Notebook 12 reads it, so that its comparisons carry
95% intervals (``course_lib.measure.stats``); its live seed-0 run is one more draw beside them.
A few minutes on one idle core (``--mode FULL`` runs the larger models, for a GPU).
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

from course_lib.experiments.conversion import SEEDS_CSV, seed_rows  # noqa: E402
from course_lib.experiments.presets import parse_seeds  # noqa: E402
from course_lib.experiments.provenance import sweep_provenance  # noqa: E402
from course_lib.files import atomic_write  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--mode", choices=("FAST", "FULL"), default="FAST")
    p.add_argument("--out", default=str(ROOT / "data" / "results" / SEEDS_CSV))
    args = p.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    torch.set_num_threads(1)  # as the notebook: one thread
    command = "python scripts/recursive_seeds.py " + " ".join(argv or sys.argv[1:])
    path, rows = Path(args.out), []
    for seed in seeds:
        rows += seed_rows(seed, args.mode)
        df = pd.DataFrame(rows)  # written after every seed: an interrupted run keeps its seeds
        atomic_write(path, df.to_csv(index=False))
        info = {**sweep_provenance(df, None, command), "mode": args.mode}
        atomic_write(path.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
        print(f"seed {seed} done: {len(df)} rows in {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
