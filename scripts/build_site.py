"""Build the course site with Sphinx, MyST-NB and sphinx-book-theme into build/site/.

Usage (from the repository root; `make site` does the same):
    python scripts/build_site.py                  # -> build/site/index.html, build/site/zh/
    python scripts/build_site.py --out DIR [NOTEBOOK ...] [--zh NOTEBOOK ...]

Two editions (issue 21): the English site in ``build/site/`` from ``notebooks/*.ipynb`` and
the Chinese one in ``build/site/zh/`` from whatever ``notebooks/zh/*.ipynb`` exist
(``scripts/zh.py build``), with ``docs/teaching.zh.md``, ``docs/answer_key.zh.md`` and
``site/index.zh.md`` as its guide, key and home page. A page has the same name in both, and
every page's header links the same page in the other edition when that edition has it
(``site/conf.py`` ``EDITIONS``, ``_templates/language-switch.html``). Without Chinese
notebooks only the English site is built and the switch renders nothing.

The book tool does the site: sidebar in course order with previous/next links, Sphinx's
static full-text search, a contents box per page, Binder and Colab launch buttons and a
download button (configuration: site/conf.py). This script does only what the tool cannot:
it builds from a temporary copy of notebooks/ and docs/ in which

- the launch-badge cell is removed (the launch buttons replace its remote badge images),
  and the set-up cells right after the title (Colab set-up, versions, imports) become ONE
  collapsed "set-up" cell, so each page opens with its title and goal;
- a widget's view, which needs a kernel, is replaced by its static stand-in: the quizzes'
  stored question (text/html) and figures stay, a progress bar goes, and the explorer,
  panel and quiz buttons become one line saying they work when the notebook runs. Saved
  widget state is not embedded: its JavaScript would come from a CDN, and the quizzes
  grade in Python, so their buttons could not answer on a static page anyway;
- links between docs/ and notebooks/ point at the site's pages; the answer key is marked
  as the teachers' page; docs/glossary.md becomes a page when it exists.

Nothing is executed (the stored outputs are shown) and nothing is downloaded. After the
build the real notebooks replace the copies under _sources/ (what the download button
gives) and MathJax is copied from the jupyter-server-mathjax package.
"""

from __future__ import annotations

import argparse
import ast
import copy
import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from course_lib import launch

ROOT = Path(__file__).resolve().parents[1]
SITE_CONF = ROOT / "site"
DOCS = ROOT / "docs"
GUIDE = DOCS / "teaching.md"
ANSWER_KEY = DOCS / "answer_key.md"
GLOSSARY = DOCS / "glossary.md"  # optional: a page when present
DOC_PAGES = {GUIDE: "teaching.md", ANSWER_KEY: "answer_key.md", GLOSSARY: "glossary.md"}
ZH_NOTEBOOKS = ROOT / "notebooks" / "zh"
GUIDE_ZH = DOCS / "teaching.zh.md"
ANSWER_KEY_ZH = DOCS / "answer_key.zh.md"
# The Chinese edition's pages: same page names as the English ones, so the switch can link them.
ZH_DOC_PAGES = {GUIDE_ZH: "teaching.md", ANSWER_KEY_ZH: "answer_key.md", GLOSSARY: "glossary.md"}
EN, ZH = "en", "zh_CN"  # the editions (site/conf.py EDITIONS, COURSE_EDITION)
SUBDIR = {EN: "", ZH: "zh"}  # where each edition sits in the built site
DEFAULT_OUT = ROOT / "build" / "site"
STAMP = ".course-site-stamp"
WARNINGS = ".sphinx-warnings"  # what sphinx-build printed (warnings and errors)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PROGRESS_BAR = re.compile(r"\d+%\|")  # tqdm's text form: "train:  0%|   | 0/150 ..."
SETUP_TAG = "hide-cell"
SETUP_PROMPT = "Set-up cell (Colab set-up, versions, imports): show"
SETUP_HIDE = "Set-up cell: hide"
TEACHERS_BANNER = (
    ":::{important}\n**Teachers' edition: the answer key.** This page gives every reference "
    "solution and quiz answer. Learners: try the exercises in the notebooks first.\n:::\n\n"
)
# What the site itself writes on a page, per edition.
TEXT = {
    EN: {
        "setup_prompt": SETUP_PROMPT,
        "setup_hide": SETUP_HIDE,
        "banner": TEACHERS_BANNER,
        "interactive": "<b>Interactive</b> when the notebook runs (launch button above, or "
        "<code>make lab</code>): ",
        "reference": "Reference",
    },
    ZH: {
        "setup_prompt": "设置单元格（Colab 设置、版本、导入）：显示",
        "setup_hide": "设置单元格：隐藏",
        "banner": ":::{important}\n**教师版：参考答案。** 本页给出每道练习的参考解答和每道“先预测，"
        "再运行”题的答案。学习者请先在 notebook 里自己做练习。\n:::\n\n",
        "interactive": "<b>交互部分</b>在 notebook 运行时可用（用上方的启动按钮，或在本地运行 "
        "<code>make lab</code>）：",
        "reference": "参考资料",
    },
}


def notebook_title(nb, fallback: str) -> str:
    """The first Markdown level-1 heading (the badge cell has none), else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _statements(source: str) -> list[ast.stmt] | None:
    try:
        return ast.parse(source).body
    except SyntaxError:
        return None


def is_setup_cell(cell) -> bool:
    """The Colab set-up cell, the versions cell (imports and prints only), or imports only."""
    if cell.cell_type != "code":
        return False
    if "colab-setup" in cell.metadata.get("tags", []):
        return True
    body = _statements(cell.source)
    if not body:
        return False
    imports = (ast.Import, ast.ImportFrom)
    if all(isinstance(s, imports) for s in body):
        return True
    printing = all(
        isinstance(s, imports)
        or (
            isinstance(s, ast.Expr)
            and isinstance(s.value, ast.Call)
            and getattr(s.value.func, "id", "") == "print"
        )
        for s in body
    )
    return printing and "python_version()" in cell.source


def lesson_first(nb, edition: str = EN):
    """A copy of ``nb`` that opens with its lesson: badge cell removed, the set-up cells
    right after the title merged into one code cell collapsed on the page (its button
    labelled in the edition's language)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.get("id") == "launch-badges" or "launch-badges" in cell.metadata.get("tags", []):
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), "remove-cell"]
    title = next(
        (
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "markdown" and re.search(r"^# ", c.source, re.M)
        ),
        None,
    )
    if title is None:
        return nb
    end = title + 1
    while end < len(nb.cells) and is_setup_cell(nb.cells[end]):
        end += 1
    run = nb.cells[title + 1 : end]
    if not run:
        return nb
    merged = copy.deepcopy(run[0])
    merged.source = "\n\n".join(c.source.strip("\n") for c in run)
    merged.outputs = [out for c in run for out in c.get("outputs", [])]
    merged.metadata = {
        "tags": [SETUP_TAG],
        "mystnb": {
            "code_prompt_show": TEXT[edition]["setup_prompt"],
            "code_prompt_hide": TEXT[edition]["setup_hide"],
        },
    }
    nb.cells[title + 1 : end] = [merged]
    return nb


def _widget_note(text: str, edition: str = EN) -> dict:
    note = (
        f"<div class='course-widget-static'>{TEXT[edition]['interactive']}"
        f"<code>{_escape(text)}</code></div>"
    )
    return {"text/html": note, "text/plain": text}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def static_widgets(nb, edition: str = EN):
    """``nb`` with each widget view replaced by its static stand-in (in place)."""
    nb.metadata.pop("widgets", None)  # saved state: its JavaScript would come from a CDN
    for cell in nb.cells:
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                text = data.get("text/plain", "")
                text = "".join(text) if isinstance(text, list) else text
                if PROGRESS_BAR.search(text):
                    continue  # a progress bar says nothing once the run is over
                out = copy.deepcopy(out)
                out["data"] = _widget_note(text.strip(), edition)
            outputs.append(out)
        if cell.cell_type == "code":
            cell.outputs = outputs
    return nb


def site_links(
    text: str, pages: set[str], aliases: dict[str, str] | None = None, folder: str = "docs"
) -> str:
    """Markdown links of a docs/ page as the site needs them: ``../notebooks/X.ipynb`` and
    docs pages to site pages, any other repository path to its GitHub page. ``aliases``
    maps a source file name to its page (``answer_key.zh.md`` -> ``answer_key.md``);
    ``folder`` is the page's folder in the repository (relative links start there)."""
    aliases = aliases or {}

    def fix(m: re.Match) -> str:
        target = m.group(2)
        if re.match(r"^[a-z]+:|^#", target):
            return m.group(0)
        path, _, anchor = target.partition("#")
        name = aliases.get(Path(path).name, Path(path).name)
        if name in pages:
            new = name
        else:
            repo_path = os.path.normpath(os.path.join(folder, path))
            new = f"{launch.repo_url()}/blob/{launch.BRANCH}/{repo_path}"
        return f"{m.group(1)}({new}{'#' + anchor if anchor else ''})"

    return re.sub(r"(\]\s*)\(([^)\s]+)\)", fix, text)


def doc_pages(edition: str) -> dict[Path, str]:
    """The docs/ files of ``edition`` that exist, each with its page name."""
    pages = DOC_PAGES if edition == EN else ZH_DOC_PAGES
    return {p: name for p, name in pages.items() if p.is_file()}


def other_notebook_links(nb, names: set[str]):
    """``nb`` with each Markdown link to a course notebook that this edition lacks (a
    Chinese notebook not built yet) pointed at that notebook on GitHub (in place)."""

    def fix(m: re.Match) -> str:
        if m.group(2) in names:
            return m.group(0)
        return f"{m.group(1)}({launch.repo_url()}/blob/{launch.BRANCH}/notebooks/{m.group(2)})"

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = re.sub(r"(\]\s*)\((\d\d_[A-Za-z0-9_]+\.ipynb)\)", fix, cell.source)
    return nb


def prepare_source(src: Path, notebooks: list[Path], edition: str = EN) -> list[str]:
    """Lay out the site's source folder ``src`` for ``edition`` (EN or ZH); return its page
    names in course order."""
    docs = doc_pages(edition)
    aliases = {p.name: name for p, name in docs.items()}
    pages = {p.name for p in notebooks} | set(docs.values())
    for nb_path in notebooks:
        nb = nbformat.read(nb_path, as_version=4)
        nb = other_notebook_links(static_widgets(lesson_first(nb, edition), edition), pages)
        nbformat.write(nb, src / nb_path.name)
    for doc, name in docs.items():
        text = site_links(doc.read_text(encoding="utf-8"), pages, aliases)
        if name == "answer_key.md":
            head, _, rest = text.partition("\n")
            text = f"{head}\n\n{TEXT[edition]['banner']}{rest}"
        (src / name).write_text(text, encoding="utf-8")
    index = index_source(edition).read_text(encoding="utf-8")
    missing = [d for d in ("teaching", "answer_key") if not (src / f"{d}.md").is_file()]
    for name in missing:  # a checkout without docs/ still builds
        index = index.replace(f"\n{name}\n", "\n")
    if (src / "glossary.md").is_file():
        caption = TEXT[edition]["reference"]
        index += f"\n```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n\nglossary\n```\n"
    (src / "index.md").write_text(index, encoding="utf-8")
    return ["index", *(p.stem for p in notebooks), *(Path(n).stem for n in docs.values())]


def index_source(edition: str) -> Path:
    """The home page's source: site/index.md, or site/index.zh.md for the Chinese site."""
    return SITE_CONF / ("index.md" if edition == EN else "index.zh.md")


def _mathjax_dir() -> Path:
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).parent / "static"


def _sphinx(src: Path, html: Path, doctrees: Path, edition: str, pages: Path, jobs: str) -> None:
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", jobs, "-c"]
    cmd += [str(SITE_CONF), "-d", str(doctrees), str(src), str(html)]
    env = {**os.environ, "COURSE_EDITION": edition, "COURSE_SITE_PAGES": str(pages)}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    log = result.stderr.replace(f"{src}{os.sep}", "")  # name pages, not the temp folder
    sys.stderr.write(log)
    if result.returncode != 0:
        raise RuntimeError(f"sphinx-build failed (exit {result.returncode}); see above")
    (html / WARNINGS).write_text(log)  # tests/catalogues/test_site.py wants it empty
    shutil.copytree(_mathjax_dir(), html / "_static" / "mathjax")


def build_site(
    out: Path, notebooks: list[Path], jobs: str = "auto", zh_notebooks: list[Path] | None = None
) -> list[str]:
    """Build the site into ``out`` (replaced whole), and the Chinese site into ``out/zh``
    from ``zh_notebooks`` (default: notebooks/zh/*.ipynb; none: no Chinese site); return
    the English site's page names in order."""
    out = Path(out)
    if zh_notebooks is None:
        zh_notebooks = sorted(ZH_NOTEBOOKS.glob("*.ipynb"))
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} is not allowed: it is a file, give a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "index.html").is_file():
        raise ValueError(
            f"out={str(out)!r} is not allowed: a non-empty folder that is not a site "
            "(no index.html); give a new or empty folder, it is replaced whole"
        )
    for nb_path in [*notebooks, *zh_notebooks]:
        if not nb_path.is_file() or nb_path.suffix != ".ipynb":
            raise ValueError(f"notebook={str(nb_path)!r} is not allowed: not an existing .ipynb")
    editions = {EN: sorted(notebooks, key=lambda p: p.name)}
    if zh_notebooks:
        editions[ZH] = sorted(zh_notebooks, key=lambda p: p.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".site-", dir=out.parent) as tmp:
        pages = {}
        for edition, nbs in editions.items():
            src = Path(tmp) / f"src-{edition}"
            src.mkdir()
            pages[edition] = prepare_source(src, nbs, edition)
        listing = Path(tmp) / "pages.json"  # site/conf.py: which pages the switch may link
        listing.write_text(json.dumps({e: [*p, "search", "genindex"] for e, p in pages.items()}))
        new = Path(tmp) / "html"
        for edition, nbs in editions.items():
            html = new / SUBDIR[edition]
            doctrees = Path(tmp) / f"doctrees-{edition}"
            _sphinx(Path(tmp) / f"src-{edition}", html, doctrees, edition, listing, jobs)
            for nb_path in nbs:  # the download button gives the notebook as committed
                shutil.copyfile(nb_path, html / "_sources" / nb_path.name)
        if out.exists():
            shutil.rmtree(out)
        os.replace(new, out)
    return pages[EN]


def inputs_digest(notebooks: list[Path], zh_notebooks: list[Path] | None = None) -> str:
    """A hash of everything the site is built from (for ``ensure_built``)."""
    if zh_notebooks is None:
        zh_notebooks = sorted(ZH_NOTEBOOKS.glob("*.ipynb"))
    docs = [*DOC_PAGES, *ZH_DOC_PAGES]
    files = [*notebooks, *zh_notebooks, *dict.fromkeys(p for p in docs if p.is_file())]
    files += sorted(p for p in SITE_CONF.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    files += [
        Path(__file__).resolve(),
        ROOT / "course_lib" / "launch.py",
        ROOT / "scripts" / "zh.py",
    ]
    h = hashlib.sha256()
    for dist in ("sphinx", "myst-nb", "sphinx-book-theme", "jupyter-server-mathjax"):
        h.update(f"{dist}=={importlib.metadata.version(dist)}".encode())
    for f in files:
        h.update(str(f.relative_to(ROOT) if f.is_relative_to(ROOT) else f).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def ensure_built(
    out: Path, notebooks: list[Path] | None = None, zh_notebooks: list[Path] | None = None
) -> Path:
    """Build ``out`` unless it already holds a build of the current inputs (tests share
    one build this way; a lock keeps parallel test workers from building twice)."""
    notebooks = notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if zh_notebooks is None:
        zh_notebooks = sorted(ZH_NOTEBOOKS.glob("*.ipynb"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        digest = inputs_digest(notebooks, zh_notebooks)
        stamp = out / STAMP
        if not (stamp.is_file() and stamp.read_text() == digest):
            build_site(out, notebooks, zh_notebooks=zh_notebooks)
            stamp.write_text(digest)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument(
        "--zh",
        nargs="*",
        type=Path,
        default=None,
        metavar="NOTEBOOK",
        help="the Chinese notebooks (default: notebooks/zh/*.ipynb when no English notebook "
        "is named, else none)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--jobs", default="auto", help="sphinx-build -j (default: auto)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    zh = args.zh
    if zh is None:
        zh = [] if args.notebooks else sorted(ZH_NOTEBOOKS.glob("*.ipynb"))
    if not notebooks:
        parser.error("no notebooks found under notebooks/")
    try:
        pages = build_site(args.out, notebooks, jobs=args.jobs, zh_notebooks=zh)
    except ValueError as e:
        parser.error(str(e))
    print(f"{len(pages)} pages in {args.out} (open {args.out / 'index.html'})")
    if (args.out / "zh" / "index.html").is_file():
        print(f"the Chinese site: {args.out / 'zh' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
