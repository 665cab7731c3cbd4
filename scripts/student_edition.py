"""Write the student edition of the course: ``make student`` -> ``build/student/``.

A copy for a class: the notebooks, ``course_lib`` and ``data/``, without ``solutions/``.
Both languages: the English notebooks go to ``notebooks/`` and the Chinese edition's
(issue 21), whatever ``notebooks/zh/*.ipynb`` exist (``scripts/zh.py build``), to
``notebooks/zh/``, each treated the same way (their code cells are the English ones).
In the copy the reference solutions are neither loaded nor reachable: the notebooks never
load them, ``load_solution`` refuses (there is no ``solutions/`` beside ``course_lib``),
the Colab set-up cell and the launch badges (both point at the full repository) are
dropped, and the stored outputs of the exercise cells are cleared. The checks still work:
they live in ``course_lib/exercises/`` and run on the learner's ``my_...`` functions.

Usage: python scripts/student_edition.py [--out build/student]
Then, in the copy: ``pip install -e .`` (or ``PYTHONPATH=.``) and ``jupyter lab notebooks/``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
# Each edition's notebooks: (folder in the repository, folder in the student edition).
EDITIONS = (("notebooks", "notebooks"), ("notebooks/zh", "notebooks/zh"))
DROPPED_TAGS = {"colab-setup", "launch-badges"}  # both lead to the full repository
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints")


def is_exercise(cell: nbformat.NotebookNode) -> bool:
    """A cell whose first line is ``# exercise (core)`` or ``# exercise (optional)``."""
    return cell.cell_type == "code" and cell.source.startswith("# exercise (")


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop the cells that lead to the full repository; clear the exercise cells' outputs."""
    nb.cells = [c for c in nb.cells if not DROPPED_TAGS & set(c.metadata.get("tags", []))]
    for cell in nb.cells:
        if (
            "solution" in cell.source
            and cell.cell_type == "code"
            and "load_solution" in cell.source
        ):
            raise ValueError(f"a code cell loads a reference solution: {cell.source[:80]!r}")
        if is_exercise(cell):
            cell.outputs, cell.execution_count = [], None
    return nb


def build(out: Path) -> list[Path]:
    """Write the edition into ``out`` (replaced if it exists); returns the notebooks written."""
    if out.resolve() in (ROOT, *ROOT.parents):
        raise ValueError(f"out={out} is not allowed: choose a folder inside build/, not the repo")
    if out.exists():
        shutil.rmtree(out)
    (out / "notebooks").mkdir(parents=True)
    shutil.copytree(ROOT / "course_lib", out / "course_lib", ignore=IGNORE)
    shutil.copytree(ROOT / "data", out / "data", ignore=IGNORE)
    shutil.copy2(ROOT / "pyproject.toml", out / "pyproject.toml")
    written = []
    for source, target in EDITIONS:
        for path in sorted((ROOT / source).glob("*.ipynb")):
            try:
                nb = student_notebook(nbformat.read(path, as_version=4))
            except ValueError as e:
                raise ValueError(f"{source}/{path.name}: {e}") from None
            (out / target).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out / target / path.name)
            written.append(out / target / path.name)
    readme = (
        "# Student edition\n\nOpen `notebooks/00_start_here.ipynb`. Install first with "
        "`pip install -e .` in this folder.\nEach exercise cell checks your own function "
        '`my_...`: it says "not attempted yet" until you write it.\n'
    )
    if (out / "notebooks" / "zh").is_dir():
        readme += (
            "\n## 中文版\n\n打开 `notebooks/zh/00_start_here.ipynb`。安装方法同上：在这个文件夹里运行 "
            "`pip install -e .`。\n每个练习单元格都会检查你自己写的函数 `my_...`：在你写好之前，"
            "它只会提示你还没有作答。\n"
        )
    (out / "README.md").write_text(readme, encoding="utf-8")
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "student")
    args = parser.parse_args(argv)
    written = build(args.out)
    zh = sum(p.parent.name == "zh" for p in written)
    print(
        f"student edition: {len(written) - zh} notebooks and {zh} Chinese ones in {args.out} "
        "(no solutions/)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
