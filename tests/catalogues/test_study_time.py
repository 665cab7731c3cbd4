"""Study times: each notebook's stated time covers the floor computed from its content."""

from pathlib import Path

import nbformat
import pytest
import study_time_rule as st  # scripts/ (tests/conftest.py puts it on sys.path)

ROOT = Path(__file__).resolve().parents[2]
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
    import study_time as script  # scripts/, on sys.path (tests/conftest.py)

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


# ------------------------------------------------------------------ the Chinese edition


def test_chinese_prose_counts_han_characters_and_the_latin_words_between_them():
    t = st.chinese_prose("共享就是同一个对象：`nn.Linear` 用在 ALBERT 的 12 层里")
    assert t.chars == 14 and t.words == 3  # `nn.Linear`, ALBERT, 12
    assert st.count_chars("[笔记本 05](05_x.ipynb) ![图](图.png) <b>粗</b>") == 4
    assert t.prose_minutes == pytest.approx(14 / 250 + 3 / 120)
    assert st.CHARS_PER_MINUTE == 250 and "250" in st.__doc__ and "Brysbaert" in st.__doc__


def test_a_translation_changes_only_the_prose_term_and_keeps_the_english_structure():
    nb = notebook(
        md("# T\n\n" + "word " * 238, id="title"),  # 240 words: 2 minutes
        code("# exercise (core)\n" + STUB),
        md("## 1. Core\n\nsome words here\n\n## 2. Extra (optional)\n\n" + "w " * 300, id="two"),
    )
    translation = {
        "title": "# 标题\n\n" + "字" * 498,  # 500 characters: 2 minutes
        "two": "## 1. 核心\n\n几个字\n\n## 2. 附加（可选）\n\n" + "字" * 900,
    }
    en, zh = st.notebook_floor(nb), st.notebook_floor(nb, translation)
    assert (zh.code_lines, zh.core_exercises, zh.run_ms) == (en.code_lines, 1, 0)
    assert zh.chars == 500 + 5 and zh.words == 1  # "1." is its one Latin-script word
    assert "2. Extra (optional)" in st.section_floors(nb, translation)  # still left out
    assert st.section_floors(nb, translation)["2. Extra (optional)"] == st.StudyTime()
    assert zh.minutes - en.minutes == pytest.approx(zh.prose_minutes - en.prose_minutes)
    assert st.translated_headings(nb, translation)["1. Core"] == "1. 核心"
    untranslated = st.notebook_floor(nb, {"title": translation["title"]})
    assert untranslated.words == 5  # cell "two" read in English: "1. Core some words here"


def test_a_translation_with_other_headings_is_named():
    nb = notebook(md("## 1. A\n\ntext\n\n## 2. B\n\ntext", id="c1"))
    with pytest.raises(ValueError, match=r"cell c1: the translation has 1 heading-separated"):
        st.notebook_floor(nb, {"c1": "## 1. 甲\n\n正文，第二个标题丢了"})


def test_the_chinese_header_is_the_english_one_with_the_chinese_prose_rounded_up_to_5():
    nb = notebook(md("# T\n\n| study time | 20 minutes |\n\n" + "word " * 235, id="t"))
    en = st.notebook_floor(nb)
    assert en.words == 240 and en.floor == 2
    same = {"t": "# 标\n\n| 学习时间 | 20 分钟 |\n\n" + "字" * 490}  # 497 characters: 2 minutes
    assert st.zh_stated_minutes(nb, same) == 20
    longer = {"t": "# 标\n\n| 学习时间 | 20 分钟 |\n\n" + "字" * 2490}  # 10 minutes: 20 - 2 + 10
    assert st.zh_stated_minutes(nb, longer) == 30
    zh = st.notebook_floor(nb, longer)
    assert st.zh_stated_minutes(nb, longer) >= zh.floor


def test_the_chinese_header_row_is_written_and_read_back_or_named():
    cell = "# 04 · 标题\n\n| | |\n|---|---|\n| 学习时间 | 100 分钟 |\n| 运行时间 | 约 5 秒 |\n"
    written = st.zh_header(cell, 95)
    assert "| 学习时间 | 95 分钟 |" in written and written.replace("95", "100") == cell
    assert st.zh_stated_in(notebook(md(written))) == 95
    with pytest.raises(ValueError, match=r"04\.ipynb: the Chinese title cell needs exactly one"):
        st.zh_header("# 标题", 95, "04.ipynb")
    with pytest.raises(ValueError, match=r"x: no header row '\| 学习时间"):
        st.zh_stated_in(notebook(md("# 标题")), "x")


def test_every_chinese_study_time_covers_its_chinese_floor():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        translation = st.read_translation(ROOT / "notebooks" / "zh" / f"{path.name[:2]}.yaml")
        floor = st.notebook_floor(nb, translation).floor
        assert st.zh_stated_minutes(nb, translation, path.name) >= floor, path.name
