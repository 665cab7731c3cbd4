"""nbval keeps every output message of a cell that sends many (conftest.py, issue 16).

nbval reads a cell's IOPub messages only after the kernel's reply; ZeroMQ queues about a
thousand at each end, so a cell that sends thousands (a progress bar on a slow, loaded
machine) loses the rest, the final "idle" status among them, and nbval fails with "Timeout
of 5 seconds exceeded waiting for output". A cell sending 15,000 widget updates shows it:
strict nbval fails on it without the repository's conftest.py and passes with it.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
UPDATES = 15_000  # well past the ~6,500 messages that got through without conftest.py


def _burst_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    code = f"import ipywidgets\nbar = ipywidgets.IntProgress(max={UPDATES})\n"
    code += (
        f"for i in range({UPDATES}):\n    bar.value = i  # one IOPub message each\nprint('done')"
    )
    cell = nbformat.v4.new_code_cell(code)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="done\n")]
    cell.execution_count = 1
    nb.cells = [cell]
    path = folder / "burst.ipynb"
    nbformat.write(nb, path)
    return path


def _nbval(path: Path, *plugin: str) -> subprocess.CompletedProcess:
    # run from the notebook's folder, so the repository's conftest.py loads only with -p
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin, "--nbval"]
    command += ["--nbval-current-env", str(path)]
    return subprocess.run(command, cwd=path.parent, env=env, capture_output=True, text=True)


def test_a_burst_of_output_messages_passes_strict_nbval(tmp_path):
    path = _burst_notebook(tmp_path)
    with_fix = _nbval(path, "-p", "conftest")
    assert with_fix.returncode == 0, (
        f"conftest.py did not keep the messages:\n{with_fix.stdout[-1500:]}"
    )
    without = _nbval(path)  # shows that the cell above really overflowed nbval's queue
    if without.returncode == 0:  # larger socket buffers than where this was measured
        pytest.skip(f"all {UPDATES} messages got through even without conftest.py here")
    assert "waiting for output" in without.stdout, f"unexpected failure:\n{without.stdout[-1500:]}"
