"""The layers of course_lib (issue 19): a lower layer never imports a higher one.

The contract is ``[tool.importlinter]`` in pyproject.toml (import-linter's ``layers`` type),
from the base (config, runtime; then files, launch) up through data, nn, training, measure,
experiments and views to exercises. The first test runs it on the package; the second shows
that it can fail: a copy of the package with one deliberate upward import is refused.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_package_keeps_its_layers():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    shutil.copytree(
        ROOT / "course_lib", tmp_path / "course_lib", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    layers = tmp_path / "course_lib" / "nn" / "layers.py"
    layers.write_text(layers.read_text() + "\nfrom course_lib.views import figures  # upward\n")
    result = lint(tmp_path)
    assert result.returncode != 0, "an nn -> views import should break the layers contract"
    assert "course_lib.nn is not allowed to import course_lib.views" in result.stdout
    assert "course_lib.nn.layers -> course_lib.views.figures" in result.stdout
