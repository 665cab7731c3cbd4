"""Run every notebook through a real Jupyter kernel and record seconds, peak GPU memory, status.

Part of the GPU job (scripts/gpu_job.sh, issue 13): COURSE_MODE=FULL, nbclient, in order,
stopping at the first error. Nothing is written back into the notebooks. Peak GPU memory
is read in the kernel itself after the last cell (``torch.cuda.max_memory_allocated``).

    COURSE_MODE=FULL python scripts/full_notebooks.py --out $OUT/full_notebooks.json
    python scripts/full_notebooks.py --dry-run --out /tmp/x.json   # lists, runs nothing
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEAK_CELL = """\
import json as _j, sys as _s
_t = _s.modules.get("torch")
_peak = _t.cuda.max_memory_allocated() if _t is not None and _t.cuda.is_available() else None
print("__PEAK__" + _j.dumps(_peak))
"""


def peak_from(cell) -> int | None:
    for out in cell.get("outputs", []):
        for line in out.get("text", "").splitlines():
            if line.startswith("__PEAK__"):
                return json.loads(line.removeprefix("__PEAK__"))
    return None


def run_one(path: Path, timeout: int) -> dict:
    """Execute one notebook in a fresh kernel in its folder; its record (never raises)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CELL))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    start = time.perf_counter()
    record = {"notebook": path.name, "status": "ok", "error": None}
    try:
        client.execute()
    except Exception as err:  # CellExecutionError, timeouts, a dead kernel: all recorded
        record.update(status="error", error=f"{type(err).__name__}: {str(err)[-1500:]}")
    record["seconds"] = round(time.perf_counter() - start, 1)
    peak = peak_from(nb.cells[-1])
    record["peak_gpu_mem_mb"] = None if peak is None else round(peak / 2**20, 1)
    return record


def provenance() -> dict:
    info = {"utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(), "mode": os.environ.get("COURSE_MODE"),
            "commit": os.environ.get("COURSE_GIT_COMMIT")}  # fmt: skip
    try:
        import torch

        info.update(torch=torch.__version__, cuda=torch.version.cuda)
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        info["torch"] = None
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", help="default: notebooks/[0-9][0-9]_*.ipynb")
    p.add_argument("--out", required=True, help="JSON file for the records")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    p.add_argument("--dry-run", action="store_true", help="list the notebooks, run nothing")
    args = p.parse_args(argv)
    paths = [Path(n) for n in args.notebooks] or sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))
    missing = [str(q) for q in paths if not q.is_file()]
    if missing:
        raise SystemExit(f"notebooks not found: {missing}")
    records = []
    for path in paths:
        if args.dry_run:
            records.append({"notebook": path.name, "status": "not run (dry run)"})
            continue
        rec = run_one(path.resolve(), args.timeout)
        records.append(rec)
        print(f"{rec['notebook']}: {rec['status']} {rec['seconds']} s, "
              f"peak GPU {rec['peak_gpu_mem_mb']} MB", flush=True)  # fmt: skip
        if rec["status"] != "ok":
            break  # stop at the first error, as the issue asks
    ran = [r for r in records if "seconds" in r]
    payload = {"provenance": provenance(), "notebooks": records,
               "total_seconds": round(sum(r["seconds"] for r in ran), 1),
               "all_ok": len(ran) == len(paths) and all(r["status"] == "ok" for r in ran)}  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}: {len(ran)} run, total {payload['total_seconds']} s")
    return 0 if payload["all_ok"] or args.dry_run else 1


if __name__ == "__main__":
    sys.exit(main())
