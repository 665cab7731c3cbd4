"""``make student`` writes a class copy without reference solutions whose checks still work."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
import student_edition  # noqa: E402

CORRECT_MASK = """# exercise (core)
def my_causal_mask(t):
    return torch.ones(t, t, dtype=torch.bool).tril()


def my_padding_mask(ids, pad_id):
    raise NotImplementedError  # your code here


check_01_causal_mask(my_causal_mask)
check_01_padding_mask(my_padding_mask)
"""


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student") / "student"
    student_edition.build(out)
    return out


def test_no_solutions_in_the_edition_and_exercise_outputs_cleared(edition):
    assert not (edition / "solutions").exists()
    assert not list(edition.rglob("solutions*.py")) and not list(edition.rglob("0?_*.py"))
    names = sorted(p.name for p in (edition / "notebooks").glob("*.ipynb"))
    assert names == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    for path in (edition / "notebooks").glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            assert "load_solution" not in source and "google.colab" not in source
            if source.startswith("# exercise ("):
                assert cell["outputs"] == [], (path.name, source[:60])


def test_the_chinese_notebooks_that_exist_go_to_notebooks_zh(edition):
    """Whatever notebooks/zh/*.ipynb exist (scripts/zh.py build) are in the edition too."""
    zh = sorted(p.name for p in (ROOT / "notebooks" / "zh").glob("*.ipynb"))
    assert sorted(p.name for p in (edition / "notebooks" / "zh").glob("*.ipynb")) == zh
    assert ("## 中文版" in (edition / "README.md").read_text(encoding="utf-8")) == bool(zh)


def chinese_copy(path: Path) -> nbformat.NotebookNode:
    """A stand-in for a built Chinese notebook: the English code cells and outputs, every
    Markdown cell in Chinese (what scripts/zh.py build writes, without running it)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = "中文：" + cell.source
    return nb


def test_a_chinese_notebook_loses_its_solutions_and_exercise_outputs_the_same_way(
    tmp_path, monkeypatch
):
    zh = tmp_path / "zh"
    zh.mkdir()
    english = ROOT / "notebooks" / "01_attention_from_scratch.ipynb"
    nbformat.write(chinese_copy(english), zh / english.name)
    monkeypatch.setattr(
        student_edition, "EDITIONS", (("notebooks", "notebooks"), (str(zh), "notebooks/zh"))
    )
    out = tmp_path / "student"
    written = student_edition.build(out)
    assert out / "notebooks" / "zh" / english.name in written
    en = nbformat.read(out / "notebooks" / english.name, as_version=4)
    cn = nbformat.read(out / "notebooks" / "zh" / english.name, as_version=4)
    assert [c.source for c in cn.cells if c.cell_type == "code"] == [
        c.source for c in en.cells if c.cell_type == "code"
    ]
    assert [c.get("outputs") for c in cn.cells] == [c.get("outputs") for c in en.cells]
    exercises = [
        c for c in cn.cells if c.cell_type == "code" and c.source.startswith("# exercise (")
    ]
    assert exercises and all(c.outputs == [] for c in exercises)
    assert not any("google.colab" in c.source or "badge_logo" in c.source for c in cn.cells)
    assert all(c.source.startswith("中文：") for c in cn.cells if c.cell_type == "markdown")
    assert "notebooks/zh/00_start_here.ipynb" in (out / "README.md").read_text(encoding="utf-8")


def test_a_chinese_notebook_that_loads_a_solution_is_named(tmp_path, monkeypatch):
    zh = tmp_path / "zh"
    zh.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("load_solution('01_attention')  # solution")]
    nbformat.write(nb, zh / "01_attention_from_scratch.ipynb")
    monkeypatch.setattr(student_edition, "EDITIONS", ((str(zh), "notebooks/zh"),))
    with pytest.raises(ValueError, match=r"zh/01_attention_from_scratch.ipynb: a code cell loads"):
        student_edition.build(tmp_path / "student")


def test_load_solution_refuses_in_the_edition(edition):
    code = "from course_lib.exercises.framework import load_solution; load_solution('01_attention')"
    env = {**os.environ, "PYTHONPATH": str(edition)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=edition
    )
    assert result.returncode != 0
    assert "not part of this edition" in result.stderr, result.stderr[-500:]


def test_a_student_notebook_runs_and_checks_the_learners_code(edition, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(edition))  # the copy's course_lib, not the repo's
    monkeypatch.setenv("COURSE_MODE", "FAST")
    path = edition / "notebooks" / "01_attention_from_scratch.ipynb"
    nb = nbformat.read(path, as_version=4)
    stub = next(c for c in nb.cells if "def my_causal_mask" in c.source)
    stub.source = CORRECT_MASK
    nb.cells.append(nbformat.v4.new_code_cell("import course_lib\nprint(course_lib.__file__)"))
    NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = {
        id(c): "".join(o.get("text", "") for o in c.outputs)
        for c in nb.cells
        if c.cell_type == "code"
    }
    assert outputs[id(nb.cells[-1])].startswith(str(edition))
    written = outputs[id(stub)]
    assert "✓ check_01_causal_mask: all 3 checks passed" in written, written
    assert "not attempted yet: replace `raise NotImplementedError` in my_padding_mask" in written
    untouched = next(c for c in nb.cells if "def my_attention_weights" in c.source)
    assert outputs[id(untouched)].startswith("not attempted yet"), outputs[id(untouched)]
    assert "✓" not in outputs[id(untouched)]


def test_make_student_runs_this_script():
    makefile = (ROOT / "Makefile").read_text()
    assert "\nstudent: venv\n\t$(BIN)/python scripts/student_edition.py\n" in makefile
