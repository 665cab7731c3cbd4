"""Execute notebooks in place so their stored outputs are what strict nbval compares.

Usage: COURSE_MODE=FAST python scripts/execute_notebooks.py notebooks/04_*.ipynb
Runs each notebook top to bottom in a fresh kernel with the notebook's folder as the
working directory and one CPU thread (as `make test` runs nbval), and refuses to save one
that raised an error.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    elapsed = time.perf_counter() - start
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)  # never leave a half-written notebook
    return elapsed


def main(paths: list[str]) -> int:
    os.environ.setdefault("COURSE_MODE", "FAST")
    # One thread per kernel, as `make test` runs nbval: float sums then repeat bit for bit
    # and two notebooks in parallel do not fight over two cores.
    os.environ["OMP_NUM_THREADS"] = "1"
    failed = 0
    for p in paths:
        try:
            print(f"{p}: {execute(Path(p)):.1f} s", flush=True)
        except CellExecutionError as e:
            failed += 1
            print(f"{p}: FAILED, not saved\n{str(e)[-2000:]}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
