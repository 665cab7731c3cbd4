"""README's module map names every module of course_lib, so a new module cannot hide."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_module_map_names_every_module():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| module | holds |", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"`([\w/]+(?:\.py)?)`", table))
    modules = {p.name for p in (ROOT / "course_lib").glob("*.py") if p.name not in ("__init__.py",)}
    missing = sorted(m for m in modules if m not in named)
    assert not missing, f"README's module map does not list {missing}"
    assert "exercises/" in named
