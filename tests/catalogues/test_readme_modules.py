"""README's module map names every module of course_lib, so a new module cannot hide."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_module_map_names_every_module():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| module | holds |", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"`([\w/]+(?:\.py)?)`", table))
    package = ROOT / "course_lib"
    modules = {
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if p.name != "__init__.py" and p.parent.name != "exercises"
    }
    missing = sorted(m for m in modules if m not in named)
    assert not missing, f"README's module map does not list {missing}"
    assert "exercises/" in named
