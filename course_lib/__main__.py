"""Command line: ``python -m course_lib sweep --preset fast|full --out PATH [--limit K]``
(also ``--seeds 0-9``, ``--dataset NAME``, ``--threads N``, ``--dry-run``, ``--quiet``).

Your own data: ``--data reviews.csv [--text-column review --label-column stars]`` runs the
preset's classification runs on that CSV, ``--data notes.txt`` its character-LM runs on
that text (``course_lib.data.own``); each plan keeps its sharing and depth, and the sizes
(vocabulary, max_len, width, steps) are suggested from the data
(``course_lib.experiments.sizing``, FAST limits with ``--preset fast``, FULL with ``full``).

Runs a preset sweep (``course_lib.experiments.run``), appending each record to the CSV at
``--out`` and resuming where an interrupted run stopped. ``--dry-run`` lists the runs and
their estimated training FLOPs without training anything. Bad arguments print a one-line
message naming the option and its allowed values, and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys

import torch

from course_lib.data.dataset import SHIPPED, Dataset
from course_lib.data.own import own_data
from course_lib.experiments.presets import (
    PRESET_NAMES,
    parse_seeds,
    preset_runs,
    training_flops,
    with_seeds,
)
from course_lib.experiments.results import check_results_path, failures_path, read_results
from course_lib.experiments.run import run_name
from course_lib.experiments.sizing import sized_runs
from course_lib.experiments.sweep import RecordLost, run_sweep
from course_lib.files import FolderLocked


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: it must be an integer >= 1")
    return value


def _csv_path(text: str) -> str:
    if not text.endswith(".csv"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed: it must be a path ending in .csv"
        )
    return text


def _seeds(text: str) -> list[int]:
    try:
        return parse_seeds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", metavar="{sweep}")
    sweep = sub.add_parser("sweep", help="run a preset sweep into a CSV (resumable)")
    sweep.add_argument(
        "--preset", required=True, choices=PRESET_NAMES, help="fast (CPU) or full (one GPU)"
    )
    sweep.add_argument(
        "--out", required=True, type=_csv_path, help="results CSV, e.g. data/results/fast.csv"
    )
    sweep.add_argument("--limit", type=_positive_int, help="run only the first K configurations")
    sweep.add_argument(
        "--seeds", type=_seeds, help="run every configuration once per seed: 0-9, 0,3,7 or 0-4,10"
    )
    sweep.add_argument(
        "--dataset", choices=tuple(SHIPPED), help="keep only the runs on this dataset"
    )
    sweep.add_argument("--data", help="your own data: a .csv (text, label) or a .txt (char LM)")
    sweep.add_argument("--text-column", default="text", help="the CSV's text column (text)")
    sweep.add_argument("--label-column", default="label", help="the CSV's label column (label)")
    sweep.add_argument(
        "--dry-run", action="store_true", help="list the runs and their FLOPs, train nothing"
    )
    sweep.add_argument(
        "--threads", type=_positive_int, help="CPU threads for torch (1 is fastest on busy cores)"
    )
    sweep.add_argument("--quiet", action="store_true", help="no progress bars or per-run lines")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "sweep":
        parser.error("a command is required: choose 'sweep'")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:  # the presets read the shipped data (its vocabulary): a missing file is a message
        runs = preset_runs(args.preset)
    except ValueError as err:
        parser.error(str(err))
    if args.data is not None:
        if args.dataset is not None:
            parser.error("argument --dataset: not allowed with --data (your data replaces it)")
        try:  # resolved once: every run of the sweep holds this Dataset
            data = Dataset.of_own(own_data(args.data, args.text_column, args.label_column))
        except ValueError as err:
            parser.error(f"argument --data: {err}")
        runs = sized_runs(runs, data, "FAST" if args.preset == "fast" else "FULL")
        if runs and not args.quiet:
            m, t = runs[0][0], runs[0][1]
            print(f"sized to {data}: vocab_size={m.vocab_size}, max_len={m.max_len}, "
                  f"d_model={m.d_model}, steps={t.steps}, batch_size={t.batch_size} "
                  "(course_lib.experiments.sizing.suggest_configs)")  # fmt: skip
    runs = [r for r in runs if args.dataset in (None, r[2])][: args.limit]
    runs = with_seeds(runs, args.seeds)
    if args.dry_run:
        for model_cfg, train_cfg, dataset in runs:
            print(
                f"{run_name(model_cfg):18s} {str(dataset):16s} steps={train_cfg.steps} "
                f"batch={train_cfg.batch_size} seed={train_cfg.seed}"
            )
        flops = training_flops(runs)
        print(f"{len(runs)} runs, {flops:.3g} training FLOPs (6 x per-use params x tokens)")
        return 0
    try:  # an --out under a file, or an existing file that is not a sweep CSV
        check_results_path(args.out)
    except ValueError as err:
        parser.error(f"argument --out: {err}")
    try:
        command = " ".join(["python -m course_lib", *(argv if argv is not None else sys.argv[1:])])
        df = run_sweep(runs, args.out, progress=not args.quiet, preset=args.preset, command=command)
    except ValueError as err:  # e.g. a missing or corrupt data file
        parser.error(str(err))
    except (FolderLocked, RecordLost) as err:  # a held lock, a full disk: not the arguments
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    print(f"{len(df)} records in {args.out}")
    failed = read_results(failures_path(args.out))
    if len(failed):  # a diverged run is no result: say so, and fail the command
        print(f"{len(failed)} runs failed (see {failures_path(args.out)}): {failed['error'][0]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
