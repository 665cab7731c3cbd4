"""Sections that run on their own (issue 17): the core path and each teaching session.

A class, or the 90-minute core path of docs/teaching.md, may start a notebook at a
numbered section (``## N.``) in a fresh kernel. The convention: such a run executes the
notebook's *preamble* (every cell before the first ``## 1.`` heading) and then the cells
of the chosen sections; a section that needs names of an earlier one begins with one
``# catch up: ...`` cell that rebuilds them through ``course_lib``.

These tests run exactly those cells with nbclient, in FAST mode and one thread, and fail
on the first error, naming the notebook, the sections and the cell:

- the core path (``scripts/study_time_rule.py``'s ``CORE_PATH``): per notebook, the preamble
  and its core sections, in order, in one kernel;
- every session of the plan (``scripts/study_time.py``'s ``sessions()``) that starts a
  notebook in the middle: the preamble and the sections of that session in that
  notebook. A session that starts at a notebook's first section runs the notebook from
  the top, which the strict nbval run of ``make notebooks`` covers already.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
NUMBERED = re.compile(
    r"^##\s+(\d+)\.\s", re.MULTILINE
)  # "## 3. ..." (not "###", not "## Appendix")
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of a traceback


def _study_time_script():
    spec = importlib.util.spec_from_file_location(
        "study_time_script", ROOT / "scripts" / "study_time.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def notebook(nn: str) -> Path:
    (path,) = sorted(NOTEBOOKS.glob(f"{nn}_*.ipynb"))
    return path


def section_starts(nb) -> dict[str, int]:
    """{section number: index of the cell whose Markdown holds its ``## N.`` heading}."""
    starts: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for number in NUMBERED.findall(cell.source):
                starts.setdefault(number, i)
    return starts


def selected_cells(nb, numbers: list[str]) -> list[int]:
    """Indices of the preamble and of the cells of sections ``numbers``. A section runs from
    its heading's cell to the next numbered heading; the last one to the notebook's end
    (its summary, appendix)."""
    starts = section_starts(nb)
    missing = [n for n in numbers if n not in starts]
    if missing:
        raise ValueError(
            f"no '## N.' heading for section(s) {missing}; the notebook has {list(starts)}"
        )
    order = sorted(starts.values())
    cells = list(range(order[0]))  # the preamble
    for n in numbers:
        begin = starts[n]
        end = next((i for i in order if i > begin), len(nb.cells))
        cells += [i for i in range(begin, end) if i not in cells]
    return cells


def run_fresh(nn: str, numbers: list[str]) -> None:
    """Run the preamble and sections ``numbers`` of notebook ``nn`` in a fresh kernel."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = notebook(nn)
    nb = nbformat.read(path, as_version=4)
    keep = selected_cells(nb, numbers)
    part = nbformat.v4.new_notebook(metadata=nb.metadata)
    part.cells = [nb.cells[i] for i in keep]
    os.environ["COURSE_MODE"] = "FAST"
    os.environ["OMP_NUM_THREADS"] = "1"
    client = NotebookClient(part, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    try:
        client.execute()
    except CellExecutionError as err:
        lines = ANSI.sub("", str(err)).strip().splitlines()
        pytest.fail(f"{path.name} §{', §'.join(numbers)} in a fresh kernel (preamble + these "
                    f"sections): {lines[-1] if lines else err}", pytrace=False)  # fmt: skip


def core_path_runs() -> list[tuple[str, list[str]]]:
    from study_time_rule import CORE_PATH  # scripts/, on sys.path (tests/conftest.py)

    by_nb: dict[str, list[str]] = {}
    for nn, number in CORE_PATH:
        by_nb.setdefault(nn, []).append(number)
    return list(by_nb.items())


def session_runs() -> list[tuple[str, list[str]]]:
    """(notebook, its sections in the session) for each session that starts a notebook
    after its first numbered section."""
    runs = []
    for session in _study_time_script().sessions():
        by_nb: dict[str, list[str]] = {}
        for nn, number in session.parts:
            by_nb.setdefault(nn, []).append(number)
        nn, numbers = next(iter(by_nb.items()))  # only the first notebook can start mid-way
        first = next(iter(section_starts(nbformat.read(notebook(nn), as_version=4))))
        if numbers[0] != first:
            runs.append((nn, numbers))
    return runs


def test_cell_selection_follows_the_convention():
    nb = nbformat.v4.new_notebook()
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb.cells = [md("# Title"), code("x = 1"), md("## 1. One"), code("a = x"),
                md("text\n\n## 2. Two\n### 2.1 sub"), code("b = a"), md("## 3. Three"),
                code("c = 1"), md("## Appendix"), code("d = c")]  # fmt: skip
    assert selected_cells(nb, ["2"]) == [0, 1, 4, 5]
    assert selected_cells(nb, ["1", "3"]) == [0, 1, 2, 3, 6, 7, 8, 9]  # appendix with §3
    with pytest.raises(ValueError, match="section"):
        selected_cells(nb, ["4"])


def test_session_runs_are_mid_notebook_starts():
    runs = session_runs()
    assert runs, "the session plan has no session that starts inside a notebook"
    for nn, numbers in runs:
        assert numbers[0] != "1", (nn, numbers)


def stored_seconds(nn: str, numbers: list[str]) -> float:
    """The run's cost as the stored outputs measured it: the summed run times of its cells
    (``metadata.execution``, written by scripts/execute_notebooks.py)."""
    from study_time_rule import run_ms

    nb = nbformat.read(notebook(nn), as_version=4)
    return sum(run_ms(nb.cells[i]) for i in selected_cells(nb, numbers)) / 1000


def fresh_runs() -> list[tuple[str, str, list[str]]]:
    """(kind, notebook, sections) of every core-path and session run, the longest first, so
    that ``pytest -n 2`` does not end with one core idle while the other runs notebook 06."""
    runs = [("core", nn, numbers) for nn, numbers in core_path_runs()]
    runs += [("session", nn, numbers) for nn, numbers in session_runs()]
    return sorted(runs, key=lambda run: -stored_seconds(run[1], run[2]))


def _run_id(run) -> str:
    kind, nn, numbers = run
    return f"{kind}-{nn}-" + (
        "+".join(numbers) if kind == "core" else f"{numbers[0]}-{numbers[-1]}"
    )


def test_runs_are_ordered_by_their_stored_cost():
    costs = [stored_seconds(nn, numbers) for _, nn, numbers in fresh_runs()]
    assert costs == sorted(costs, reverse=True) and costs[0] > 10, costs  # 06 trains for long


@pytest.mark.parametrize("run", fresh_runs(), ids=_run_id)
def test_runs_in_a_fresh_kernel(run):
    """The core path (per notebook) and each mid-notebook session start, in fresh kernels."""
    _, nn, numbers = run
    run_fresh(nn, numbers)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name[:2])
def test_catch_up_cells_open_their_section(path):
    """A catch-up cell is the first code cell of a numbered section, at most one per section."""
    nb = nbformat.read(path, as_version=4)
    starts = sorted(section_starts(nb).values())
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.source.startswith("# catch up"):
            assert cell.source.startswith("# catch up: "), (
                f"{path.name} cell {i}: '# catch up: <what>'"
            )
            begin = max((s for s in starts if s < i), default=None)
            assert begin is not None, f"{path.name} cell {i}: a catch-up cell in the preamble"
            before = [c for c in nb.cells[begin:i] if c.cell_type == "code"]
            assert not before, f"{path.name} cell {i}: the catch-up cell must open its section"
