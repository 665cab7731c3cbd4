"""scripts/build_site.py renders every notebook with its STORED outputs (no execution)."""

import html
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402
import study_time as study_time_script  # noqa: E402

from course_lib.exercises import study_time  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def stored_outputs(nb) -> tuple[list[str], list[str]]:
    """(printed lines, base64 PNGs) stored in the notebook's outputs."""
    lines, pngs = [], []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                lines += [s.strip() for s in out.text.splitlines() if len(s.strip()) > 8]
            elif "image/png" in out.get("data", {}):
                pngs.append(out.data["image/png"].replace("\n", ""))
    return lines, pngs


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    build_site.main(["--out", str(out)])
    return out


def test_index_links_every_notebook_in_course_order(site):
    index = (site / "index.html").read_text()
    links = re.findall(r"<a href='(\d\d_\w+\.html)'>", index)
    assert links == [p.stem + ".html" for p in NOTEBOOKS]
    for p in NOTEBOOKS:
        title = build_site.notebook_title(nbformat.read(p, as_version=4), p.stem)
        assert html.escape(title) in index
    if build_site.GUIDE.is_file():
        assert "teaching.html" in index and (site / "teaching.html").is_file()


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_page_shows_the_stored_outputs(site, nb_path):
    page = (site / (nb_path.stem + ".html")).read_text()
    lines, pngs = stored_outputs(nbformat.read(nb_path, as_version=4))
    assert lines or pngs, f"{nb_path.name} has no stored outputs to show"
    for line in lines[:3]:
        assert html.escape(line, quote=False) in page, line
    for png in pngs:
        assert png[:200] in page  # the figure itself, embedded in the page


def test_nothing_is_executed(tmp_path):
    """A stored output that the code would not produce is what the page shows."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cell = nbformat.v4.new_code_cell("raise SystemExit('would fail if run')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="stored-output-42\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# 99 · A stored notebook"), cell]
    path = tmp_path / "99_stored.ipynb"
    nbformat.write(nb, path)
    out = tmp_path / "site"
    build_site.main(["--out", str(out), str(path)])
    assert "stored-output-42" in (out / "99_stored.html").read_text()
    assert "99 · A stored notebook" in (out / "index.html").read_text()


def test_bad_paths_are_clear_errors(tmp_path, capsys):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(SystemExit):
        build_site.main(["--out", str(afile), str(NOTEBOOKS[0])])
    assert "out=" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_site.main(["--out", str(tmp_path / "o"), str(tmp_path / "missing.ipynb")])
    assert "not an existing .ipynb" in capsys.readouterr().err


def test_teaching_guide_study_times_match_the_notebooks():
    rows = {}
    for line in build_site.GUIDE.read_text().splitlines():
        m = re.match(r"\| (\d\d) \| [^|]+ \| [^|]+ \| ([^|]+) \|$", line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    assert sorted(rows) == [f"{i:02d}" for i in range(12)]
    for p in NOTEBOOKS:
        header = next(
            c.source for c in nbformat.read(p, as_version=4).cells if "study time" in c.source
        )
        minutes = re.search(r"\| study time \| (\d+) minutes", header).group(1)
        assert rows[p.name[:2]] == f"{minutes} min", f"docs/teaching.md disagrees with {p.name}"


def test_readme_course_map_study_times_match_the_notebooks():
    readme = (ROOT / "README.md").read_text()
    rows = dict(
        re.findall(r"^\| (\d\d) \| \[[^]]+\]\([^)]+\) \| [^|]+ \| (\d+) min \|", readme, re.M)
    )
    assert sorted(rows) == [p.name[:2] for p in NOTEBOOKS]
    for p in NOTEBOOKS:
        nb = nbformat.read(p, as_version=4)
        stated = study_time.stated_minutes(nb, p.name)
        assert rows[p.name[:2]] == str(stated), f"README's course map disagrees with {p.name}"


def test_teaching_guide_plans_are_current_and_fit_their_slots():
    text = build_site.GUIDE.read_text()
    assert study_time_script.update_docs(text) == text, (
        "docs/teaching.md's core path or session plan is out of date: run "
        "python scripts/study_time.py --update-docs"
    )
    core = study_time_script.core_path_rows()
    assert sum(m for *_, m in core) <= study_time.CORE_PATH_MINUTES
    assert {nn for nn, *_ in core} == {"04", "08", "11"}
    for session in study_time_script.sessions():
        assert session.minutes <= study_time.SESSION_WORK_MINUTES, session.label()


def test_teaching_guide_says_what_is_true_of_the_exercises():
    text = build_site.GUIDE.read_text()
    assert "empty cell above the check" not in text
    assert "(answer_key.md)" in text and (ROOT / "docs" / "answer_key.md").is_file()
    assert "90-minute core path" in text


def test_quizzes_show_their_question_on_the_static_pages(site):
    """A static page cannot run a widget: each quiz's question and choices are there as HTML."""
    asked = 0
    for p in NOTEBOOKS:
        page = (site / (p.stem + ".html")).read_text()
        for cell in nbformat.read(p, as_version=4).cells:
            for qid in re.findall(r'^quiz\("(\d\d-[a-z0-9-]+)"\)', cell.source, re.M):
                assert f"Predict, then run</b> ({qid})" in page, f"{p.name}: {qid}"
                asked += 1
    assert asked >= 4
