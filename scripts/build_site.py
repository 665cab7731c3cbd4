"""Build the course site with Sphinx, MyST-NB and sphinx-book-theme into build/site/.

Usage (from the repository root; `make site` does the same):
    python scripts/build_site.py                  # -> build/site/index.html
    python scripts/build_site.py --out DIR [NOTEBOOK ...]

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


def lesson_first(nb):
    """A copy of ``nb`` that opens with its lesson: badge cell removed, the set-up cells
    right after the title merged into one code cell collapsed on the page."""
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
        "mystnb": {"code_prompt_show": SETUP_PROMPT, "code_prompt_hide": SETUP_HIDE},
    }
    nb.cells[title + 1 : end] = [merged]
    return nb


def _widget_note(text: str) -> dict:
    note = (
        "<div class='course-widget-static'><b>Interactive</b> when the notebook runs "
        "(launch button above, or <code>make lab</code>): "
        f"<code>{_escape(text)}</code></div>"
    )
    return {"text/html": note, "text/plain": text}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def static_widgets(nb):
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
                out["data"] = _widget_note(text.strip())
            outputs.append(out)
        if cell.cell_type == "code":
            cell.outputs = outputs
    return nb


def site_links(text: str, pages: set[str]) -> str:
    """Markdown links of a docs/ page as the site needs them: ``../notebooks/X.ipynb`` and
    docs pages to site pages, any other repository path to its GitHub page."""

    def fix(m: re.Match) -> str:
        target = m.group(2)
        if re.match(r"^[a-z]+:|^#", target):
            return m.group(0)
        path, _, anchor = target.partition("#")
        name = Path(path).name
        if name in pages:
            new = name
        else:
            repo_path = os.path.normpath(os.path.join("docs", path))
            new = f"{launch.repo_url()}/blob/{launch.BRANCH}/{repo_path}"
        return f"{m.group(1)}({new}{'#' + anchor if anchor else ''})"

    return re.sub(r"(\]\s*)\(([^)\s]+)\)", fix, text)


def prepare_source(src: Path, notebooks: list[Path]) -> list[str]:
    """Lay out the site's source folder ``src``; return its page names in course order."""
    docs = {p: name for p, name in DOC_PAGES.items() if p.is_file()}
    pages = {p.name for p in notebooks} | set(docs.values())
    for nb_path in notebooks:
        nb = nbformat.read(nb_path, as_version=4)
        nbformat.write(static_widgets(lesson_first(nb)), src / nb_path.name)
    for doc, name in docs.items():
        text = site_links(doc.read_text(encoding="utf-8"), pages)
        if doc == ANSWER_KEY:
            head, _, rest = text.partition("\n")
            text = f"{head}\n\n{TEACHERS_BANNER}{rest}"
        (src / name).write_text(text, encoding="utf-8")
    index = (SITE_CONF / "index.md").read_text(encoding="utf-8")
    missing = [d for d in ("teaching", "answer_key") if not (src / f"{d}.md").is_file()]
    for name in missing:  # a checkout without docs/ still builds
        index = index.replace(f"\n{name}\n", "\n")
    if (src / "glossary.md").is_file():
        index += "\n```{toctree}\n:caption: Reference\n:maxdepth: 1\n\nglossary\n```\n"
    (src / "index.md").write_text(index, encoding="utf-8")
    return ["index", *(p.stem for p in notebooks), *(Path(n).stem for n in docs.values())]


def _mathjax_dir() -> Path:
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).parent / "static"


def build_site(out: Path, notebooks: list[Path], jobs: str = "auto") -> list[str]:
    """Build the site into ``out`` (replaced whole); return its page names in order."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} is not allowed: it is a file, give a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "index.html").is_file():
        raise ValueError(
            f"out={str(out)!r} is not allowed: a non-empty folder that is not a site "
            "(no index.html); give a new or empty folder, it is replaced whole"
        )
    for nb_path in notebooks:
        if not nb_path.is_file() or nb_path.suffix != ".ipynb":
            raise ValueError(f"notebook={str(nb_path)!r} is not allowed: not an existing .ipynb")
    notebooks = sorted(notebooks, key=lambda p: p.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".site-", dir=out.parent) as tmp:
        src, new = Path(tmp) / "src", Path(tmp) / "html"
        src.mkdir()
        pages = prepare_source(src, notebooks)
        cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", jobs, "-c"]
        cmd += [str(SITE_CONF), "-d", str(Path(tmp) / "doctrees"), str(src), str(new)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        log = result.stderr.replace(f"{src}{os.sep}", "")  # name pages, not the temp folder
        sys.stderr.write(log)
        if result.returncode != 0:
            raise RuntimeError(f"sphinx-build failed (exit {result.returncode}); see above")
        (new / WARNINGS).write_text(log)  # tests/test_site.py wants it empty
        shutil.copytree(_mathjax_dir(), new / "_static" / "mathjax")
        for nb_path in notebooks:  # the download button gives the notebook as committed
            shutil.copyfile(nb_path, new / "_sources" / nb_path.name)
        if out.exists():
            shutil.rmtree(out)
        os.replace(new, out)
    return pages


def inputs_digest(notebooks: list[Path]) -> str:
    """A hash of everything the site is built from (for ``ensure_built``)."""
    files = [*notebooks, *(p for p in (GUIDE, ANSWER_KEY, GLOSSARY) if p.is_file())]
    files += sorted(p for p in SITE_CONF.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    files += [Path(__file__).resolve(), ROOT / "course_lib" / "launch.py"]
    h = hashlib.sha256()
    for dist in ("sphinx", "myst-nb", "sphinx-book-theme", "jupyter-server-mathjax"):
        h.update(f"{dist}=={importlib.metadata.version(dist)}".encode())
    for f in files:
        h.update(str(f.relative_to(ROOT) if f.is_relative_to(ROOT) else f).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def ensure_built(out: Path, notebooks: list[Path] | None = None) -> Path:
    """Build ``out`` unless it already holds a build of the current inputs (tests share
    one build this way; a lock keeps parallel test workers from building twice)."""
    notebooks = notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        digest = inputs_digest(notebooks)
        stamp = out / STAMP
        if not (stamp.is_file() and stamp.read_text() == digest):
            build_site(out, notebooks)
            stamp.write_text(digest)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--jobs", default="auto", help="sphinx-build -j (default: auto)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        parser.error("no notebooks found under notebooks/")
    try:
        pages = build_site(args.out, notebooks, jobs=args.jobs)
    except ValueError as e:
        parser.error(str(e))
    print(f"{len(pages)} pages in {args.out} (open {args.out / 'index.html'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
