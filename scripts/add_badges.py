"""Write the launch badges and the Colab set-up cell into every notebook (and the README).

Usage (from the repository root):
    python scripts/add_badges.py            # insert or update, in notebooks/*.ipynb
    python scripts/add_badges.py --check    # exit 1 if any notebook or the README is stale
    python scripts/add_badges.py PATH ...   # only these notebooks

Every notebook gets, at the top, a Markdown cell with the Binder and Colab badges (tag
``launch-badges``) and, just before its first code cell, the Colab set-up code cell (tag
``colab-setup``). Both texts come from ``course_lib.launch``, where the repository address
lives, so running this again after changing ``REPO`` updates every link. The set-up cell
prints nothing off Colab, so its stored output is empty and strict nbval stays green
without re-executing the notebook. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.launch import badges_markdown, binder_url, colab_cell_source, colab_url  # noqa: E402

BADGES_TAG = "launch-badges"
SETUP_TAG = "colab-setup"


def _tagged(nb, tag: str) -> int | None:
    for i, cell in enumerate(nb.cells):
        if tag in cell.get("metadata", {}).get("tags", []):
            return i
    return None


def _new_cell(nb, kind: str, source: str, tag: str):
    make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
    cell = make(source, metadata={"tags": [tag]})
    if nb.nbformat_minor >= 5:
        cell["id"] = tag  # a fixed id, so re-running never churns the file
    else:
        cell.pop("id", None)
    return cell


def update_notebook(nb, name: str) -> bool:
    """Put the current badges and set-up cell into ``nb`` (in place); True if it changed."""
    before = nbformat.writes(nb)
    badges = badges_markdown(name)
    i = _tagged(nb, BADGES_TAG)
    if i is None:
        nb.cells.insert(0, _new_cell(nb, "markdown", badges, BADGES_TAG))
    else:
        nb.cells[i].source = badges
    setup = colab_cell_source()
    j = _tagged(nb, SETUP_TAG)
    if j is None:
        first_code = next((k for k, c in enumerate(nb.cells) if c.cell_type == "code"), None)
        at = first_code if first_code is not None else len(nb.cells)
        nb.cells.insert(at, _new_cell(nb, "code", setup, SETUP_TAG))
    elif nb.cells[j].source != setup:
        nb.cells[j].source = setup
        nb.cells[j].outputs = []  # off Colab the cell prints nothing
        nb.cells[j].execution_count = None
    return nbformat.writes(nb) != before


def notebook_is_current(nb, name: str) -> bool:
    i, j = _tagged(nb, BADGES_TAG), _tagged(nb, SETUP_TAG)
    if i is None or j is None:
        return False
    first_code = next(k for k, c in enumerate(nb.cells) if c.cell_type == "code")
    return (
        nb.cells[i].source == badges_markdown(name)
        and nb.cells[j].source == colab_cell_source()
        and j == first_code
        and nb.cells[j].outputs == []
    )


COURSE_MAP_ROW = re.compile(r"^\| \d\d \| \[[^]]+\]\(notebooks/([\w.-]+\.ipynb)\) \|")


def launch_cell(notebook: str) -> str:
    """The course map's launch column for one notebook: Binder and Colab links."""
    return f"[Binder]({binder_url(notebook)}) · [Colab]({colab_url(notebook)})"


def course_map_row(line: str) -> str:
    """A course-map row whose last column is the current launch links of its notebook."""
    m = COURSE_MAP_ROW.match(line)
    if not m:
        return line
    cells = [cell.strip() for cell in line.rstrip().rstrip("|").split(" | ")]
    if "[Binder](" in cells[-1]:
        cells = cells[:-1]
    return " | ".join([*cells, launch_cell(m.group(1))]) + " |"


def readme_text(text: str) -> str:
    """The README with its badge line (the line after the title) and the launch column of
    its course map set to the current ones."""
    lines = [course_map_row(line) for line in text.split("\n")]
    for k, line in enumerate(lines):
        if line.startswith("| # | notebook |") and not line.endswith("| launch |"):
            lines[k] = line + " launch |"
            lines[k + 1] = lines[k + 1] + "---|"
    line = badges_markdown()
    for k, old in enumerate(lines):
        if old.startswith("[![Binder]("):
            lines[k] = line
            return "\n".join(lines)
    title = next(k for k, old in enumerate(lines) if old.startswith("# "))
    lines[title + 1 : title + 1] = ["", line]
    return "\n".join(lines)


def _write_atomic(path: Path, content) -> None:
    """Write text, or a notebook the way nbformat writes it, via a temp file + rename."""
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(content, str):
        tmp.write_text(content, encoding="utf-8")
    else:
        nbformat.write(content, tmp)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--check", action="store_true", help="report stale files, change none")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    stale = []
    for path in paths:
        if not path.is_file() or path.suffix != ".ipynb":
            parser.error(f"notebook path {str(path)!r} is not an existing .ipynb file")
        nb = nbformat.read(path, as_version=4)
        if args.check:
            if not notebook_is_current(nb, path.name):
                stale.append(path)
        elif update_notebook(nb, path.name):
            _write_atomic(path, nb)
            print(f"updated {path}")
    if args.readme.is_file():
        text = args.readme.read_text(encoding="utf-8")
        if readme_text(text) != text:
            if args.check:
                stale.append(args.readme)
            else:
                _write_atomic(args.readme, readme_text(text))
                print(f"updated {args.readme}")
    for path in stale:
        print(f"stale: {path} lacks the current launch badges or Colab set-up cell")
    if stale:
        print("run: python scripts/add_badges.py")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
