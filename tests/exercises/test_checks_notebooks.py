"""The notebooks' exercise cells check the learner's own code (issue 12).

Every exercise cell starts with ``# exercise (core)`` or ``# exercise (optional)``,
defines ``my_...`` stubs and runs its check on them; no notebook loads a reference
solution; the stored output of an exercise cell is the neutral "not attempted yet" line,
never a pass.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
MARKER = re.compile(r"^# exercise \((core|optional)\)\n")
CHECK_CALL = re.compile(r"\bcheck_\d\d_\w+\(([^)]*)\)")


def code_cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code"]


def is_exercise(source: str) -> bool:
    return bool(re.search(r"^def my_\w+\(", source, re.M)) and "NotImplementedError" in source


def text_of(cell: dict) -> str:
    out = []
    for o in cell.get("outputs", []):
        out.append("".join(o.get("text", "")))
        out.append("".join(o.get("data", {}).get("text/plain", "")))
    return "".join(out)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_no_notebook_loads_a_reference_solution(path):
    for cell in code_cells(path):
        source = "".join(cell["source"])
        assert "load_solution" not in source and "solution." not in source, source[:200]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_exercise_cells_check_the_learners_stub_and_say_not_attempted(path):
    for cell in code_cells(path):
        source = "".join(cell["source"])
        if not is_exercise(source):
            continue
        assert MARKER.match(source), f"first line must be '# exercise (core|optional)':\n{source}"
        calls = CHECK_CALL.findall(source)
        assert calls, f"an exercise cell runs its check:\n{source}"
        for args in calls:
            names = [a.strip() for a in args.split(",")]
            assert all(n.startswith("my_") for n in names), f"check my_ functions:\n{source}"
        stored = text_of(cell)
        assert "not attempted yet" in stored, f"stored output: {stored!r}"
        assert "✓" not in stored and "passed" not in stored, f"stored output: {stored!r}"
