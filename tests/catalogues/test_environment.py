"""environment.yml (Binder, conda) and pyproject.toml (pip, CI) list the same packages."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONDA_NAMES = {"pytorch-cpu": "torch", "pytorch": "torch"}  # conda name -> pip name


def split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(2).split("#")[0].strip().replace(" ", "")


def pip_requirements() -> dict[str, str]:
    """What `pip install -e .[dev]` asks for: a package named again in dev (ipywidgets)
    takes dev's bound, as the environments (which hold JupyterLab) need."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(split(r) for r in reqs)


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict) or dep.startswith(("python", "pip")):
            continue
        name, spec = split(dep)
        out[CONDA_NAMES.get(name, name)] = spec
    return out


def test_same_packages_and_bounds():
    assert conda_requirements() == pip_requirements()


def test_ipywidgets_77_at_run_time_8_beside_jupyterlab_4():
    """Colab ships ipywidgets 7.7 and its own front end: course_lib runs with it. JupyterLab 4
    renders only ipywidgets 8 kernels (a 7.7 kernel shows a JavaScript error), so the dev
    extra and the conda environments, which hold JupyterLab, ask for 8."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = dict(split(r) for r in project["dependencies"])
    dev = dict(split(r) for r in project["optional-dependencies"]["dev"])
    assert runtime["ipywidgets"] == ">=7.7"
    assert dev["ipywidgets"] == ">=8.1" and dev["jupyterlab"].startswith(">=4")
    assert conda_requirements()["ipywidgets"] == ">=8.1"


def test_environment_installs_course_lib_and_uses_conda_forge():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    pip_part = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_part


def test_python_floor_agrees():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    floor = project["requires-python"].removeprefix(">=")
    assert f"python>={floor}" in env["dependencies"]


def test_no_exact_pins():
    for name, spec in {**pip_requirements(), **conda_requirements()}.items():
        assert not spec.startswith("=="), f"{name} is pinned exactly ({spec}); use a lower bound"
