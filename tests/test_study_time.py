"""Study times: each notebook's stated time covers the floor computed from its content."""

from pathlib import Path

import nbformat
import pytest
import study_time_rule as st  # scripts/ (tests/conftest.py puts it on sys.path)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
STUB = "def my_f(x):\n    raise NotImplementedError  # your code\n\n\ncheck_f(my_f)\n"


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stated_study_time_covers_the_floor(path):
    nb = nbformat.read(path, as_version=4)
    total = st.notebook_floor(nb)
    stated = st.stated_minutes(nb, path.name)
    assert stated >= total.floor, (
        f"{path.name} states {stated} minutes; its content needs at least {total.floor} "
        f"({total.words} words / 120 + {total.code_lines} code lines / 10 + "
        f"8 x {total.core_exercises} core exercises + {total.run_minutes:.1f} minutes of "
        "measured run time): raise the header's study time or mark sections optional"
    )


def test_floor_is_words_code_and_core_exercises():
    nb = notebook(
        md("# Title\n\n" + "word " * 239),  # 240 words = 2 min
        code("# a comment\nx = 1\n\ny = 2  # trailing comments count as code\n"),  # 2 lines
        code("# exercise (core)\n" + STUB),  # 3 code lines + 8 min
        code("# exercise (optional)\n" + STUB),  # 3 code lines, no minutes
    )
    t = st.notebook_floor(nb)
    assert (t.words, t.code_lines, t.core_exercises, t.optional_exercises) == (240, 8, 1, 1)
    assert t.minutes == pytest.approx(2 + 0.8 + 8) and t.floor == 11


def test_the_measured_run_time_of_code_cells_adds_to_the_floor():
    timed = code("x = 1")
    timed.metadata["execution"] = {
        "iopub.execute_input": "2026-12-02T04:59:19.220669Z",
        "shell.execute_reply": "2026-12-02T05:00:49.220669Z",  # 90 s later
    }
    t = st.notebook_floor(notebook(md("# T"), timed, code("y = 2")))  # untimed: 0 s
    assert t.run_ms == 90_000 and t.run_minutes == 1.5
    assert t.reading_minutes == pytest.approx(1 / 120 + 2 / 10)  # "T", two code lines
    assert t.floor == 2  # 0.22 reading + 1.5 running, rounded up
    timed.metadata["execution"]["shell.execute_reply"] = "not a time"
    assert st.run_ms(timed) == 0


def test_every_executed_notebook_stores_the_run_time_of_its_code_cells():
    for path in NOTEBOOKS:
        cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        untimed = [c.get("id") for c in cells if not st.run_ms(c) and c.get("outputs")]
        assert len(untimed) <= len(cells) // 2, (
            f"{path.name}: {len(untimed)} of {len(cells)} code cells carry no execution "
            "timestamps; re-execute it with scripts/execute_notebooks.py"
        )


def test_an_unmarked_stub_counts_as_core_and_markers_are_case_blind():
    assert st.exercise_kind(STUB) == "core"
    assert st.exercise_kind("# Exercise (Optional)\n" + STUB) == "optional"
    assert st.exercise_kind("# exercise (core)\nprint(1)") == "core"
    assert st.exercise_kind("x = my_f(1)\n") is None
    assert st.exercise_kind("# the exercise (core) is below\n" + "x = 1") is None


def test_badges_links_and_tags_are_not_words():
    badge = "[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/x/y)"
    assert st.count_words(badge) == 0
    assert st.count_words("see [notebook 05](05_sharing.ipynb) <br> | --- | now") == 4


def test_optional_sections_are_left_out_until_the_next_heading_of_their_level():
    nb = notebook(
        md("## 1. Core\n\n" + "w " * 118),  # 120 words with "1." and "Core"
        md("## 2. More (optional)\n\n" + "w " * 500),
        md("### 2.1 inside\n\n" + "w " * 500),
        code("# exercise (core)\n" + STUB),
        md("## 3. Back\n\nfour words here"),
    )
    t = st.notebook_floor(nb)
    assert (t.words, t.core_exercises) == (125, 0)  # 120 + "3. Back four words here"
    sections = st.section_floors(nb)
    assert list(sections) == ["header", "1. Core", "2. More (optional)", "3. Back"]
    assert sections["2. More (optional)"] == st.StudyTime()
    assert sum(sections.values(), st.StudyTime()) == t


def test_a_heading_inside_a_cell_starts_its_section_but_not_inside_a_code_fence():
    nb = notebook(
        md("## 1. A\n\none two\n\n## 2. B (optional)\n\nthree four five"),
        md("```python\n# not a heading\nx = 1\n```\n\n## 3. C\n\nsix"),
    )
    sections = st.section_floors(nb)
    assert list(sections) == ["header", "1. A", "2. B (optional)", "3. C"]
    assert sections["1. A"].words == 4 and sections["3. C"].words == 3
    assert sections["2. B (optional)"].words == 0  # its fenced code too: optional


def test_sections_add_up_to_the_notebook_for_every_notebook():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert sum(st.section_floors(nb).values(), st.StudyTime()) == st.notebook_floor(nb)


def test_stated_minutes_and_clear_errors(tmp_path):
    nb = notebook(md("# T\n\n| | |\n|---|---|\n| study time | 75 minutes |\n"))
    assert st.stated_minutes(nb) == 75
    with pytest.raises(ValueError, match=r"x\.ipynb: no header row '\| study time"):
        st.stated_minutes(notebook(md("# T")), "x.ipynb")
    with pytest.raises(ValueError, match="notebook=.*missing.ipynb"):
        st.read(tmp_path / "missing.ipynb")


def test_the_script_prints_every_notebook_and_fails_on_a_low_header(tmp_path, capsys):
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    import study_time as script

    low = tmp_path / "99_low.ipynb"
    nbformat.write(notebook(md("# T\n\n| study time | 1 minutes |\n"), code(STUB)), low)
    assert script.main([str(low), "--sections"]) == 1
    out = capsys.readouterr().out
    assert "99_low" in out and "below the floor" in out and "header" in out


def sections_of(*minutes):
    """Numbered sections of the given lengths (code lines at 10 a minute)."""
    return [
        (str(i), f"{i}. s", st.StudyTime(code_lines=int(m * 10))) for i, m in enumerate(minutes, 1)
    ]


def test_plan_uses_fewest_sessions_keeps_notebooks_whole_then_evens_out():
    course = [("01", sections_of(30, 30)), ("02", sections_of(20, 20, 20))]
    plan = st.plan_sessions(course, work_minutes=70)
    assert [s.label() for s in plan] == ["01 §1-2", "02 §1-3"]
    assert [s.minutes for s in plan] == [60, 60]
    plan = st.plan_sessions([("01", sections_of(10, 30, 30, 10))], work_minutes=45)
    assert [s.minutes for s in plan] == [40, 40]  # not 40 + 30 + 10: evened out
    assert [s.label() for s in plan] == ["01 §1-2", "01 §3-4"]


def test_plan_covers_every_section_once_within_the_slot_for_the_course():
    course = [(p.name[:2], st.numbered_sections(st.read(p))) for p in NOTEBOOKS]
    plan = st.plan_sessions(course, st.SESSION_WORK_MINUTES)
    assert [part for s in plan for part in s.parts] == [
        (nn, number) for nn, sections in course for number, _, _ in sections
    ]
    assert all(s.minutes <= st.SESSION_WORK_MINUTES for s in plan)
    assert sum(s.minutes for s in plan) == pytest.approx(
        sum(st.notebook_floor(st.read(p)).minutes for p in NOTEBOOKS)
    )


def test_a_section_longer_than_the_slot_is_named():
    with pytest.raises(ValueError, match=r"notebook 03, section '2. s': 80.0 minutes"):
        st.plan_sessions([("03", sections_of(10, 80))], work_minutes=70)


def test_section_lookup_by_number():
    nb = notebook(md("# T\n\nintro"), md("## 1. First\n\nword"), md("## 2. Second\n\na b"))
    assert st.section(nb, "2") == ("2. Second", st.StudyTime(words=4))
    assert [n for n, _, _ in st.numbered_sections(nb)] == ["1", "2"]
    assert st.numbered_sections(nb)[0][2].words == 3 + 2  # the header goes with section 1
    with pytest.raises(ValueError, match=r"x.ipynb: no section '## 3\. \.\.\.'"):
        st.section(nb, "3", "x.ipynb")
