"""The Chinese edition's docs (issue 21): README.zh.md's course map and docs/teaching.zh.md.

README.zh.md lists every notebook with a working relative link to its Chinese notebook, the
Chinese study time that teaching.zh.md and the Chinese notebooks' headers state (the rule's
zh_stated_minutes, scripts/study_time_rule.py) and launch links to the Chinese notebooks.
The generated parts are what ``python scripts/study_time.py --update-docs --lang zh`` writes.
The map is read with tests/catalogues/test_site.py's helpers and the badges with tests/base/test_launch.py's.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
for folder in ("base", "catalogues"):  # the test modules whose helpers are imported
    sys.path.insert(0, str(ROOT / "tests" / folder))

import study_time as script  # noqa: E402  (scripts/study_time.py)
import study_time_rule as st  # noqa: E402
from test_glossary import read_glossary  # noqa: E402
from test_launch import badge_links  # noqa: E402
from test_site import course_map, guide_study_times  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
README_ZH = ROOT / "README.zh.md"
GUIDE_ZH = ROOT / "docs" / "teaching.zh.md"


def test_readme_zh_maps_every_notebook_with_a_working_link_and_its_chinese_study_time():
    rows = course_map(README_ZH.read_text(encoding="utf-8"), "分钟")
    assert sorted(rows) == [p.name[:2] for p in NOTEBOOKS]
    minutes = script.zh_minutes()
    guide = guide_study_times(GUIDE_ZH.read_text(encoding="utf-8"))
    for p in NOTEBOOKS:
        link, stated = rows[p.name[:2]]
        assert link == f"notebooks/zh/{p.name}", link
        assert (ROOT / link).is_file(), f"README.zh.md links {link}, which is missing: make zh"
        assert int(stated) == minutes[p.name[:2]], f"README.zh.md: {p.name} (rerun --lang zh)"
        assert guide[p.name[:2]] == f"{stated} 分钟", f"docs/teaching.zh.md disagrees: {p.name}"
        built = ROOT / link
        if built.is_file():
            header = st.zh_stated_in(nbformat.read(built, as_version=4), link)
            assert header == int(stated), f"{link} states {header} 分钟, README.zh.md {stated}"


def test_readme_zh_launches_the_chinese_notebooks_and_links_the_english_readme():
    text = README_ZH.read_text(encoding="utf-8")
    assert all("notebooks/zh/" in u.replace("%2F", "/") for u in badge_links(text)[1:])
    for p in NOTEBOOKS:
        assert script.zh_launch_cell(p.name) in text, p.name
    assert "(README.md)" in text and "make lab" in text and "make test" in text
    assert "(README.zh.md)" in (ROOT / "README.md").read_text(encoding="utf-8").split("\n")[2]


def test_the_chinese_docs_are_what_the_generator_writes():
    guide = GUIDE_ZH.read_text(encoding="utf-8")
    assert script.update_docs(guide, "zh") == guide, (
        "run scripts/study_time.py --update-docs --lang zh"
    )
    readme = README_ZH.read_text(encoding="utf-8")
    assert script.zh_readme_text(readme) == readme, (
        "run scripts/study_time.py --update-docs --lang zh"
    )
    assert "每分钟 250 个汉字" in guide and str(st.CHARS_PER_MINUTE) in guide
    assert sum(m for *_, m in script.core_path_rows("zh")) <= st.CORE_PATH_MINUTES
    assert all(s.minutes <= st.SESSION_WORK_MINUTES for s in script.sessions("zh"))


def test_the_chinese_docs_use_no_avoided_term():
    texts = {p.name: p.read_text(encoding="utf-8") for p in (README_ZH, GUIDE_ZH)}
    for row in read_glossary():
        for form in filter(None, (f.strip() for f in row.get("避免", "").split(","))):
            for name, text in texts.items():
                assert form not in text, f"{name} uses {form!r}; the glossary says {row['中文']}"


def test_a_changed_translation_changes_the_chinese_minutes_column():
    text = "| 00 | x | y | 20 分钟 |\n| 01 | x | y | 60 分钟 |"
    out = script.zh_minutes_column(text, "t.md", {"00": 25, "01": 60})
    assert out == "| 00 | x | y | 25 分钟 |\n| 01 | x | y | 60 分钟 |"
    try:
        script.zh_minutes_column(text, "t.md", {"00": 20, "02": 5})
    except ValueError as e:
        assert re.search(r"t\.md: no table row .* notebook\(s\) 02", str(e))
    else:
        raise AssertionError("a notebook without a row must be named")
