"""Render the course to static HTML: every notebook WITH its stored outputs, plus an index.

Usage (from the repository root; `make site` does the same):
    python scripts/build_site.py                  # -> build/site/index.html
    python scripts/build_site.py --out DIR [NOTEBOOK ...]

Nothing is executed: the pages show the outputs committed in the notebooks (the FAST CPU
runs that strict nbval checks), so building takes seconds and needs no kernel. Uses
nbconvert's HTMLExporter (JupyterLab look, figures embedded as data URIs), so each page
is one self-contained file; the index links them in course order and links the teaching
guide (docs/teaching.md rendered to HTML). Files are written atomically.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters import markdown2html

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "teaching.md"


def notebook_title(nb, fallback: str) -> str:
    """The first Markdown level-1 heading (the badge cell has none), else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head><meta charset='utf-8'>\n"
        f"<title>{html.escape(title)}</title>\n"
        "<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5} li{margin:.3rem 0} table{border-collapse:collapse}"
        " td,th{border:1px solid #ccc;padding:.2rem .5rem}</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def build_site(out: Path, notebooks: list[Path]) -> list[Path]:
    """Write one HTML page per notebook and ``index.html`` into ``out``; return the pages."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} is not allowed: it is a file, give a folder")
    for nb_path in notebooks:
        if not nb_path.is_file() or nb_path.suffix != ".ipynb":
            raise ValueError(f"notebook={str(nb_path)!r} is not allowed: not an existing .ipynb")
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")  # no ExecutePreprocessor: stored outputs only
    pages, items = [], []
    for nb_path in sorted(notebooks, key=lambda p: p.name):
        nb = nbformat.read(nb_path, as_version=4)
        title = notebook_title(nb, nb_path.stem)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
        page = out / (nb_path.stem + ".html")
        _write(page, body)
        pages.append(page)
        items.append(f"<li><a href='{page.name}'>{html.escape(title)}</a></li>")
    guide = ""
    if GUIDE.is_file():
        text = GUIDE.read_text(encoding="utf-8")
        _write(out / "teaching.html", _page("Teaching guide", markdown2html(text)))
        guide = "<p>For teachers: <a href='teaching.html'>the teaching guide</a>.</p>"
    index = (
        "<h1>Sharing weights across layers: a Transformer course you can measure</h1>\n"
        "<p>The notebooks with the outputs of their last tested run (FAST mode, CPU). "
        "To run them yourself, see the repository's README.</p>\n"
        f"{guide}\n<ol>\n" + "\n".join(items) + "\n</ol>"
    )
    _write(out / "index.html", _page("Course notebooks", index))
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        parser.error("no notebooks found under notebooks/")
    try:
        pages = build_site(args.out, notebooks)
    except ValueError as e:
        parser.error(str(e))
    print(f"{len(pages)} notebook pages + index.html in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
