"""matplotlib and ipywidgets are imported only under ``course_lib/views/`` (issue 19).

The one exception is ``exercises/quiz.py`` (and ``exercises/quizzes.py``, which holds its
questions): the predict-before-you-run quiz is a widget. Everything else (plans, counts,
measurements, ``explore``) is plain data that a view draws, so an exercise module or a
script that imports it never pulls a plotting or widget library in.

Two checks: every module's source, read with ``ast`` (imports at module level and inside
functions, ``importlib.import_module`` and ``__import__`` with a literal name); and the
modules themselves, imported in a fresh interpreter, leave both libraries out of
``sys.modules``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "course_lib"
VIEW_LIBRARIES = ("matplotlib", "ipywidgets")
ALLOWED = ("views/", "exercises/quiz.py")  # where the two libraries may be imported
SHOWS_WIDGETS = ("course_lib.views", "course_lib.exercises.quiz", "course_lib.exercises.quizzes")


def view_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) for every import of matplotlib or ipywidgets in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        found += [(node.lineno, n) for n in names if n.split(".")[0] in VIEW_LIBRARIES]
    return found


def modules_outside_views() -> list[Path]:
    return [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if not p.relative_to(PACKAGE).as_posix().startswith(ALLOWED)
    ]


def test_the_scan_finds_every_way_of_importing_a_view_library():
    """A deliberate offence of each kind is caught; a mention in a string or a name is not."""
    source = """
import matplotlib
import os, ipywidgets as W
from matplotlib.colors import LogNorm

def plot(ax=None):
    import matplotlib.pyplot as plt
    return plt

class Panel:
    def show(self):
        from ipywidgets import Output
        importlib.import_module("matplotlib.figure")
        __import__("ipywidgets")

note = "import matplotlib"  # text, not an import
from course_lib.views.figures import png_output  # a view module, not the library
"""
    assert sorted(view_imports(source)) == [
        (2, "matplotlib"),
        (3, "ipywidgets"),
        (4, "matplotlib.colors"),
        (7, "matplotlib.pyplot"),
        (12, "ipywidgets"),
        (13, "matplotlib.figure"),
        (14, "ipywidgets"),
    ]


def test_matplotlib_and_ipywidgets_are_imported_only_under_views():
    modules = modules_outside_views()
    assert len(modules) > 40, [p.name for p in modules]  # the scan reads the package
    offences = [
        f"course_lib/{p.relative_to(PACKAGE).as_posix()}:{line} imports {name}"
        for p in modules
        for line, name in view_imports(p.read_text(encoding="utf-8"))
    ]
    assert not offences, (
        "only course_lib/views/ (and exercises/quiz.py) may import matplotlib or ipywidgets; "
        "move the drawing into a view that takes the data as arguments:\n" + "\n".join(offences)
    )


def test_the_views_hold_every_figure():
    """The scan is not vacuous: the figures and widgets do import the libraries, in views/."""
    holders = {
        p.relative_to(PACKAGE).as_posix()
        for p in sorted((PACKAGE / "views").glob("*.py"))
        if view_imports(p.read_text(encoding="utf-8"))
    }
    expected = {"figures", "model_figures", "speed_figures", "explorer", "training_panel"}
    assert {f"views/{name}.py" for name in expected} <= holders, holders


def test_importing_the_package_outside_views_loads_neither_library():
    """What the source scan cannot see (a dependency that imports them) shows here."""
    code = f"""
import importlib, pkgutil, sys
import course_lib
for m in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
    if m.name == "course_lib.__main__" or m.name.startswith({SHOWS_WIDGETS!r}):
        continue
    importlib.import_module(m.name)
print(sorted(n for n in sys.modules if n.split(".")[0] in {VIEW_LIBRARIES!r}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=110
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout
