"""Each name has one home (issue 19): no module forwards names with a module-level
``__getattr__``, and no package ``__init__.py`` re-exports another module's names, except
``course_lib/__init__.py``, the public face (``from course_lib import ModelConfig, ...``).
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "course_lib"
PUBLIC_FACE = PACKAGE / "__init__.py"


def forwarding(path: Path) -> list[str]:
    """What in ``path`` serves another module's names: a module-level ``__getattr__``, or (in
    a package's ``__init__.py``) an import of names from a module of course_lib."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [
        f"line {n.lineno}: module-level __getattr__"
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name == "__getattr__"
    ]
    if path.name == "__init__.py" and path != PUBLIC_FACE:
        found += [
            f"line {n.lineno}: from {n.module} import ..."
            for n in tree.body
            if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("course_lib")
        ]
    return found


def test_no_module_forwards_names():
    problems = {
        str(p.relative_to(PACKAGE)): f
        for p in sorted(PACKAGE.rglob("*.py"))
        if (f := forwarding(p))
    }
    assert not problems, f"import each name from its one home instead: {problems}"


def test_the_scan_finds_both_kinds_of_forwarding(tmp_path):
    shim = tmp_path / "__init__.py"
    shim.write_text(
        "from course_lib.nn.model import build_model\n\ndef __getattr__(name):\n    pass\n"
    )
    assert forwarding(shim) == [
        "line 3: module-level __getattr__",
        "line 1: from course_lib.nn.model import ...",
    ]
    assert forwarding(PUBLIC_FACE) == []  # the public face may re-export
