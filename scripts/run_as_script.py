"""Run a notebook's code cells as a plain Python script, where Jupyter is not installed.

For a lent GPU machine that has torch but no Jupyter: checks that FULL mode runs end to
end and times it. Every code cell runs in order in one namespace, in the notebook's
folder, with figures drawn off-screen and ``display`` printing; nothing is written back.

    python scripts/run_as_script.py notebooks/03_whole_model.ipynb [more.ipynb ...]

Prints one line per notebook (seconds, cells) and exits 1 if any cell raised.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import traceback
from pathlib import Path


def run(path: Path) -> tuple[bool, float, int]:
    import matplotlib

    matplotlib.use("Agg")
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    namespace = {"__name__": "__main__", "display": print}
    start, here = time.perf_counter(), os.getcwd()
    os.chdir(path.parent)
    try:
        for i, cell in enumerate(cells):
            source = "".join(cell["source"])
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(source, f"{path.name}[cell {i}]", "exec"), namespace)
            except Exception:
                traceback.print_exc()
                return False, time.perf_counter() - start, i
            import matplotlib.pyplot as plt

            plt.close("all")
    finally:
        os.chdir(here)
    return True, time.perf_counter() - start, len(cells)


def main(paths: list[str]) -> int:
    failed = 0
    for p in paths:
        ok, seconds, cells = run(Path(p).resolve())
        failed += not ok
        status = "ok" if ok else f"FAILED at code cell {cells}"
        print(
            f"{p}: {status}, {seconds:.1f} s, mode={os.environ.get('COURSE_MODE', 'default')}",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
