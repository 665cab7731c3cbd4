"""The course site (scripts/build_site.py, site/conf.py): Sphinx + MyST-NB from STORED outputs.

Also the study-time tables of docs/teaching.md and the README, which must agree with the
notebooks' headers (``course_map`` and ``guide_study_times`` read them; the Chinese docs'
test, tests/course/test_zh_docs.py, reads README.zh.md and teaching.zh.md with them). The
site is built once into build/site-test/ (with build/site-test/zh/ when Chinese notebooks
exist) and shared with tests/catalogues/test_site_browser.py (rebuilt only when an input changed); a
small two-edition build checks the language switch whatever Chinese notebooks exist.
"""

import hashlib
import html
import re
from base64 import b64decode
from pathlib import Path

import jinja2
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
import build_site  # noqa: E402
import study_time as study_time_script  # noqa: E402
import study_time_rule as study_time  # noqa: E402

from course_lib import launch  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SITE_TEST = ROOT / "build" / "site-test"
REMOTE = re.compile(r"^(https?:)?//")


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


def article(page: str) -> str:
    """The page's main article, without the sidebars and header."""
    m = re.search(r'<article class="bd-article">(.*?)</article>', page, re.S)
    assert m, "no <article class='bd-article'> in the page"
    return m.group(1)


def course_map(text: str, unit: str = "min") -> dict[str, tuple[str, str]]:
    """{NN: (notebook link, study time)} of a README's course map rows
    "| NN | [title](link) | what you do | N min | ..." (``unit`` "分钟" for README.zh.md)."""
    rows = re.findall(
        rf"^\| (\d\d) \| \[[^]]+\]\(([^)]+)\) \| [^|]+ \| (\d+) {unit} \|", text, re.M
    )
    return {nn: (link, minutes) for nn, link, minutes in rows}


def guide_study_times(text: str) -> dict[str, str]:
    """{NN: "N min"} of the teaching guide's goals table "| NN | title | goal | N min |"."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\| (\d\d) \| [^|]+ \| [^|]+ \| ([^|]+) \|$", line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    return rows


@pytest.fixture(scope="module")
def site():
    return build_site.ensure_built(SITE_TEST)


def test_sidebar_lists_every_page_in_course_order(site):
    nav = re.search(
        r'<nav class="[^"]*bd-docs-nav[^"]*"[^>]*>(.*?)</nav>',
        (site / "index.html").read_text(),
        re.S,
    )
    links = re.findall(r'class="reference internal" href="([^"#]+)"', nav.group(1))
    expected = [p.stem + ".html" for p in NOTEBOOKS] + ["teaching.html", "answer_key.html"]
    if build_site.GLOSSARY.is_file():
        expected.append("glossary.html")
    assert [x for x in links if x != "#"] == expected
    for p in NOTEBOOKS:
        title = build_site.notebook_title(nbformat.read(p, as_version=4), p.stem)
        assert html.escape(title, quote=False) in nav.group(1)


def test_the_build_has_no_warnings(site):
    """A broken link, a missing page or a bad cell would be a Sphinx warning."""
    assert (site / build_site.WARNINGS).read_text() == ""


def test_a_glossary_becomes_a_page_when_present(tmp_path, monkeypatch):
    glossary = tmp_path / "glossary.md"
    glossary.write_text(
        "# Glossary\n\n[04](../notebooks/04_what_sharing_means.ipynb), [guide](teaching.md), "
        "[README](../README.md#set-up)\n"
    )
    pages = {**build_site.DOC_PAGES, glossary: "glossary.md"}
    del pages[build_site.GLOSSARY]
    monkeypatch.setattr(build_site, "DOC_PAGES", pages)
    src = tmp_path / "src"
    src.mkdir()
    names = build_site.prepare_source(src, NOTEBOOKS[4:5])
    assert names == ["index", NOTEBOOKS[4].stem, "teaching", "answer_key", "glossary"]
    assert ":caption: Reference" in (src / "index.md").read_text()
    text = (src / "glossary.md").read_text()
    assert "(04_what_sharing_means.ipynb)" in text and "(teaching.md)" in text
    assert f"({launch.repo_url()}/blob/{launch.BRANCH}/README.md#set-up)" in text


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_page_shows_the_stored_outputs(site, nb_path):
    page = (site / (nb_path.stem + ".html")).read_text()
    lines, pngs = stored_outputs(nbformat.read(nb_path, as_version=4))
    assert lines or pngs, f"{nb_path.name} has no stored outputs to show"
    for line in lines[:3]:
        assert html.escape(line, quote=False) in html.unescape(page) or line in page, line
    images = set(re.findall(r'<img [^>]*src="(_images/[^"]+\.png)"', page))
    shipped = {hashlib.sha256((site / i).read_bytes()).hexdigest() for i in images}
    for png in pngs:  # the figure itself, as an image file the page shows
        assert hashlib.sha256(b64decode(png)).hexdigest() in shipped


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_page_opens_with_its_lesson(site, nb_path):
    """Title and goal come first; the set-up cells are one collapsed cell; no badge cell."""
    body = article((site / (nb_path.stem + ".html")).read_text())
    first_cell = body.find('<div class="cell')
    assert body.find("<h1>") < first_cell and body.find("<strong>Goal.</strong>") < first_cell
    assert re.match(r'<div class="cell tag_hide-cell', body[first_cell:]), nb_path.name
    assert body.count("tag_hide-cell") == 1
    assert build_site.SETUP_PROMPT in body and "google.colab" in body
    assert "badge_logo.svg" not in body and "colab-badge.svg" not in body


def test_setup_cells_merge_into_one():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("[![Binder](x.svg)](y)", id="launch-badges"),
        nbformat.v4.new_markdown_cell("# 98 · Title\n\n**Goal.** Learn."),
        nbformat.v4.new_code_cell("import sys", metadata={"tags": ["colab-setup"]}),
        nbformat.v4.new_code_cell('import platform\n\nprint(f"{platform.python_version()}")'),
        nbformat.v4.new_code_cell("import torch\nfrom torch import nn"),
        nbformat.v4.new_code_cell("x = 1  # not set-up: it stays in view"),
    ]
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", text="3.11\n")]
    out = build_site.lesson_first(nb)
    assert [c.cell_type for c in out.cells] == ["markdown", "markdown", "code", "code"]
    assert "remove-cell" in out.cells[0].metadata["tags"]
    merged = out.cells[2]
    assert merged.metadata["tags"] == [build_site.SETUP_TAG]
    assert "import sys" in merged.source and "from torch import nn" in merged.source
    assert [o.text for o in merged.outputs] == ["3.11\n"]
    assert out.cells[3].source.startswith("x = 1") and len(nb.cells) == 6  # input untouched


def test_widget_views_become_static_stand_ins(site):
    """No widget JavaScript or view; the quizzes' stored question, figures and a line for
    the explorer, the training panel and the quiz buttons instead."""
    pages = {p.stem: (site / (p.stem + ".html")).read_text() for p in NOTEBOOKS}
    for name, page in pages.items():
        assert "widget-view+json" not in page and "widget-state+json" not in page, name
        assert "embed-amd" not in page and "require.js" not in page, name
        assert "it/s]" not in page, f"{name}: a progress bar"
    assert "SharingExplorer(" in pages["04_what_sharing_means"]
    assert "TrainingPanel(" in pages["06_training_with_sharing"]
    assert "course-widget-static" in pages["04_what_sharing_means"]


def test_quizzes_show_their_question_on_the_static_pages(site):
    """A static page cannot run a widget: each quiz's question and choices are there as HTML."""
    asked = 0
    for p in NOTEBOOKS:
        page = (site / (p.stem + ".html")).read_text()
        for cell in nbformat.read(p, as_version=4).cells:
            for qid in re.findall(r'^quiz\("(\d\d-[a-z0-9-]+)"\)', cell.source, re.M):
                assert f"Predict, then run</b> ({qid})" in page, f"{p.name}: {qid}"
                assert f"QuizWidget(&#x27;{qid}&#x27;" in page or f"QuizWidget('{qid}'" in page
                asked += 1
    assert asked >= 4


def test_nothing_remote_is_loaded_at_view_time(site):
    """Scripts, styles, images, fonts: all from the site itself. Only <a> links go out."""
    for page in site.glob("*.html"):
        text = page.read_text()
        for tag, attr in re.findall(r"<(script|link|img|iframe|source|embed)\b([^>]*)>", text):
            for url in re.findall(r'\b(?:src|href|srcset)="([^"]+)"', attr):
                if tag == "link" and re.search(r'rel="(?:canonical|alternate)"', attr):
                    continue
                assert not REMOTE.match(url), f"{page.name}: <{tag}> loads {url}"
        assert "cdn." not in re.sub(r'<a [^>]*href="[^"]*"', "", text), page.name
    for css in (site / "_static").rglob("*.css"):
        remote = re.findall(r"""(?:url\(|@import)\s*['"]?(https?:)?//""", css.read_text())
        assert not remote, f"{css.relative_to(site)} loads a remote resource"
    assert (site / "_static" / "mathjax" / "MathJax.js").is_file()


def test_launch_buttons_and_download_come_from_the_repository_address(site):
    for p in NOTEBOOKS:
        page = (site / (p.stem + ".html")).read_text()
        assert html.escape(launch.binder_url(p.name)) in page, p.name
        assert html.escape(launch.colab_url(p.name)) in page, p.name
        assert f'href="_sources/{p.name}"' in page, p.name
        assert (site / "_sources" / p.name).read_bytes() == p.read_bytes()
    assert launch.repo_url() in (site / "index.html").read_text()


def test_search_index_covers_the_notebooks(site):
    index = (site / "searchindex.js").read_text()
    for p in NOTEBOOKS:
        assert f'"{p.stem}"' in index, p.name
    assert '"sandwich"' in index  # a term of notebook 05 (the browser test searches it)


def test_teachers_pages(site):
    guide = (site / "teaching.html").read_text()
    assert "Teaching with this course" in guide and 'href="answer_key.html"' in guide
    key = article((site / "answer_key.html").read_text())
    assert "Teachers’ edition: the answer key." in key or "Teachers' edition" in key
    assert (site / "glossary.html").is_file() == build_site.GLOSSARY.is_file()


def test_language_switch_renders_other_editions_only():
    """The hook for the Chinese edition: nothing with one edition, links with two."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "site" / "_templates"))
    tpl = env.get_template("language-switch.html")
    one = [{"lang": "en", "label": "English", "root": ""}]
    assert tpl.render(course_editions=one, course_edition="en", pagename="05_x").strip() == ""
    two = [*one, {"lang": "zh_CN", "label": "中文", "root": "zh/"}]
    out = tpl.render(course_editions=two, course_edition="en", pagename="05_x")
    assert 'href="zh/05_x.html"' in out and "中文" in out and "English" not in out
    only_04 = [*one, {"lang": "zh_CN", "label": "中文", "root": "zh/", "pages": ["04_x"]}]
    assert tpl.render(course_editions=only_04, course_edition="en", pagename="05_x").strip() == ""
    back = tpl.render(course_editions=two, course_edition="zh_CN", pagename="05_x")
    assert 'href="05_x.html"' in back and "English" in back and "中文" not in back


# ------------------------------------------------------------------ two editions (issue 21)

ZH_NOTEBOOKS = sorted(build_site.ZH_NOTEBOOKS.glob("*.ipynb"))
NB05 = "05_sharing_strategies.ipynb"


def switch_links(page: str) -> list[tuple[str, str]]:
    """(hreflang, href) of the language switch in a page's header."""
    nav = re.search(r'<nav class="course-language-switch"[^>]*>(.*?)</nav>', page, re.S)
    return re.findall(r'hreflang="([^"]+)"[^>]*\s+href="([^"]+)"', nav.group(1)) if nav else []


def test_every_page_switches_to_the_same_page_in_the_other_edition(site):
    """With Chinese notebooks built, each page of either site links the same page of the
    other when that page exists there, and the link works; without them there is no switch."""
    zh_site = site / "zh"
    assert zh_site.is_dir() == bool(ZH_NOTEBOOKS)
    en_pages = {p.name for p in site.glob("*.html")}
    zh_pages = {p.name for p in zh_site.glob("*.html")}
    for name in en_pages:
        links = switch_links((site / name).read_text())
        expected = [("zh-CN", f"zh/{name}")] if name in zh_pages else []
        assert links == expected, name
    for name in zh_pages:
        assert switch_links((zh_site / name).read_text()) == [("en", f"../{name}")], name
        assert (zh_site / f"../{name}").resolve().is_file()
    assert (zh_site / build_site.WARNINGS).read_text() == "" if zh_pages else True


@pytest.fixture(scope="module")
def two_editions(tmp_path_factory):
    """English 04 and 05, Chinese 04 only (built from notebooks/zh/04.yaml by scripts/zh.py,
    not executed): the switch links only the pages the other edition has."""
    import zh  # scripts/zh.py

    tmp = tmp_path_factory.mktemp("editions")
    zh_nb = tmp / "04_what_sharing_means.ipynb"
    nbformat.write(zh.build_notebook("04"), zh_nb)
    english = [ROOT / "notebooks" / "04_what_sharing_means.ipynb", ROOT / "notebooks" / NB05]
    build_site.build_site(tmp / "site", english, jobs="1", zh_notebooks=[zh_nb])
    return tmp / "site"


def test_the_chinese_site_is_a_second_site_in_zh(two_editions):
    en, zh = two_editions, two_editions / "zh"
    for site_dir in (en, zh):
        assert (site_dir / build_site.WARNINGS).read_text() == ""
        assert (site_dir / "_static" / "mathjax" / "MathJax.js").is_file()
    page = (zh / "04_what_sharing_means.html").read_text()
    assert '<html lang="zh-CN"' in page
    assert switch_links(page) == [("en", "../04_what_sharing_means.html")]
    assert switch_links((en / "04_what_sharing_means.html").read_text()) == [
        ("zh-CN", "zh/04_what_sharing_means.html")
    ]
    assert switch_links((en / NB05.replace(".ipynb", ".html")).read_text()) == []  # no zh 05
    assert switch_links((en / "index.html").read_text()) == [("zh-CN", "zh/index.html")]
    assert not (zh / NB05.replace(".ipynb", ".html")).exists()


def test_the_chinese_pages_launch_and_download_the_chinese_notebooks(two_editions):
    import zh as zh_tool  # scripts/zh.py: how a Chinese notebook's badges point at itself

    zh = two_editions / "zh"
    page = (zh / "04_what_sharing_means.html").read_text()
    name = "04_what_sharing_means.ipynb"
    for url in (launch.binder_url(name), launch.colab_url(name)):
        assert "notebooks/zh/" in zh_tool.zh_markdown(url, badges=True).replace("%2F", "/")
        assert html.escape(zh_tool.zh_markdown(url, badges=True)) in page
        assert html.escape(url) not in page  # not the English notebook
    built = nbformat.read(zh / "_sources" / name, as_version=4)
    assert built.metadata.get("course_zh", {}).get("translation") == "notebooks/zh/04.yaml"
    body = article(page)
    assert build_site.TEXT[build_site.ZH]["setup_prompt"] in body
    assert build_site.SETUP_PROMPT not in body and "Interactive</b>" not in body
    assert "交互部分" in body  # the explorer's static stand-in, in Chinese
    index = (zh / "index.html").read_text()
    assert "跨层共享权重" in index and 'href="04_what_sharing_means.html"' in index


def test_the_chinese_answer_key_page_carries_the_chinese_banner(tmp_path, monkeypatch):
    key = tmp_path / "answer_key.zh.md"
    key.write_text("# 参考答案（仅供教师使用）\n\n正文。\n", encoding="utf-8")
    guide = tmp_path / "teaching.zh.md"
    guide.write_text("# 用这门课教学\n\n[参考答案](answer_key.zh.md)\n", encoding="utf-8")
    monkeypatch.setattr(build_site, "ZH_DOC_PAGES", {guide: "teaching.md", key: "answer_key.md"})
    src = tmp_path / "src"
    src.mkdir()
    names = build_site.prepare_source(src, [], build_site.ZH)
    assert names == ["index", "teaching", "answer_key"]
    text = (src / "answer_key.md").read_text(encoding="utf-8")
    assert text.startswith("# 参考答案（仅供教师使用）\n\n:::{important}\n**教师版：参考答案。**")
    assert "(answer_key.md)" in (src / "teaching.md").read_text(encoding="utf-8")
    assert ":caption: 课程" in (src / "index.md").read_text(encoding="utf-8")


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
    build_site.main(["--out", str(out), "--jobs", "1", str(path)])
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
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit):
        build_site.main(["--out", str(tmp_path / "mine"), str(NOTEBOOKS[0])])
    assert "not a site" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_teaching_guide_study_times_match_the_notebooks():
    rows = guide_study_times(build_site.GUIDE.read_text())
    assert sorted(rows) == sorted(p.name[:2] for p in NOTEBOOKS)
    for p in NOTEBOOKS:
        header = next(
            c.source for c in nbformat.read(p, as_version=4).cells if "study time" in c.source
        )
        minutes = re.search(r"\| study time \| (\d+) minutes", header).group(1)
        assert rows[p.name[:2]] == f"{minutes} min", f"docs/teaching.md disagrees with {p.name}"


def test_readme_course_map_study_times_match_the_notebooks():
    rows = {
        nn: minutes for nn, (_, minutes) in course_map((ROOT / "README.md").read_text()).items()
    }
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
