"""Launch the course anywhere: Binder and Colab links, and the Colab set-up (notebook 00).

The repository address lives here and nowhere else: ``REPO`` (GitHub owner/name) and
``BRANCH``. ``REPO`` is a placeholder until the course is published on GitHub; change
this one line then, run ``python scripts/add_badges.py`` and every badge, link and Colab
set-up cell follows.

- Local (``make lab``) and Binder (mybinder.org builds ``binder/``) need nothing here.
- Colab ships its own torch (often a CUDA build) and lacks ``course_lib`` and the data.
  The first code cell of every notebook, ``colab_cell_source()``, written into the
  notebooks by ``scripts/add_badges.py``, does nothing off Colab (and prints nothing, so
  strict nbval sees an empty output). On Colab it clones the repository (code and
  ``data/``) and calls ``colab_setup``, which installs ``course_lib`` with ``--no-deps``
  plus only the requirements Colab lacks entirely, with everything installed pinned, so
  no package Colab ships (torch, ipywidgets 7.7, numpy, pandas, matplotlib,
  scikit-learn...) is ever upgraded, and points ``COURSE_DATA_DIR`` at the shipped data.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from urllib.parse import quote

from course_lib.runtime import DATA_DIR_ENV

REPO = "sharing-course/transformer-sharing-course"  # placeholder until published
BRANCH = "main"
COLAB_DIR = "/content/" + REPO.split("/")[1]  # where the Colab cell clones the repository

BINDER_HOST = "https://mybinder.org"  # also the site's launch buttons (site/conf.py)
COLAB_HOST = "https://colab.research.google.com"
BINDER_BADGE = f"{BINDER_HOST}/badge_logo.svg"
COLAB_BADGE = f"{COLAB_HOST}/assets/colab-badge.svg"
NEVER_INSTALL = ("torch",)  # Colab's own build stays; a pip torch would be a multi-GB CUDA wheel
_NOTEBOOK = re.compile(r"^(?:notebooks/)?(\d\d_[a-z0-9_]+\.ipynb)$")


def repo_url() -> str:
    return f"https://github.com/{REPO}"


def _notebook_path(notebook: str) -> str:
    m = _NOTEBOOK.match(str(notebook))
    if not m:
        raise ValueError(
            f"notebook={notebook!r} is not allowed: give a course notebook file name such as "
            "'00_start_here.ipynb' (optionally under 'notebooks/')"
        )
    return "notebooks/" + m.group(1)


def binder_url(notebook: str | None = None) -> str:
    """mybinder.org link opening JupyterLab, at ``notebook`` when given."""
    base = f"{BINDER_HOST}/v2/gh/{REPO}/{BRANCH}"
    if notebook is None:
        return base + "?urlpath=lab"
    return base + "?labpath=" + quote(_notebook_path(notebook), safe="")


def colab_url(notebook: str) -> str:
    """Google Colab link that opens ``notebook`` straight from GitHub."""
    return f"{COLAB_HOST}/github/{REPO}/blob/{BRANCH}/{_notebook_path(notebook)}"


def badges_markdown(notebook: str | None = None) -> str:
    """The two launch badges (Binder, Colab) as one line of Markdown."""
    binder = f"[![Binder]({BINDER_BADGE})]({binder_url(notebook)})"
    if notebook is None:  # the README: Colab opens the first notebook
        notebook = "00_start_here.ipynb"
    colab = f"[![Open In Colab]({COLAB_BADGE})]({colab_url(notebook)})"
    return f"{binder} {colab}"


def colab_cell_source(url: str | None = None, dest: str = COLAB_DIR, branch: str = BRANCH) -> str:
    """The first code cell of every notebook. It cannot import course_lib (not installed
    yet on Colab), so it clones the repository, then hands over to ``colab_setup``.
    ``url``/``dest`` exist for the test, which clones a local repository instead."""
    url = url or repo_url()
    return (
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:  # Colab only: fetch the course, keep Colab\'s torch\n'
        "    import os\n"
        "    import subprocess\n"
        "\n"
        f'    repo = "{dest}"\n'
        "    if not os.path.isdir(repo):\n"
        f'        url = "{url}"\n'
        f'        subprocess.run(["git", "clone", "-q", "--depth=1", "--branch={branch}", url, repo], check=True)\n'
        "    sys.path.insert(0, repo)\n"
        "    from course_lib.launch import colab_setup\n"
        "\n"
        "    colab_setup(repo)"
    )


def _floor(spec: str) -> tuple[int, ...]:
    m = re.search(r">=\s*([\d.]+)", spec)
    return tuple(int(p) for p in m.group(1).split(".") if p) if m else ()


def _key(name: str) -> str:
    """A distribution name as pip compares them: scikit_learn, Scikit-Learn -> scikit-learn."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions() -> dict[str, str]:
    """Every distribution this Python imports from, as {normalised name: version}; the
    first one on ``sys.path`` wins, as for imports."""
    out: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and _key(name) not in out:
            out[_key(name)] = dist.version
    return out


def _requirements(pyproject: Path) -> list[tuple[str, str]]:
    """(name, requirement) for each of course_lib's runtime dependencies."""
    deps = tomllib.loads(Path(pyproject).read_text())["project"]["dependencies"]
    out = []
    for dep in deps:
        dep = dep.split("#")[0].strip().replace(" ", "")
        out.append((re.match(r"[A-Za-z0-9_.\-]+", dep).group(0), dep))
    return out


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version.split("+")[0])[:3])


def missing_requirements(pyproject: Path, installed: dict[str, str] | None = None) -> list[str]:
    """``course_lib``'s runtime requirements whose package is not installed at all. A
    package that is installed is never named, whatever its version: upgrading what Colab
    ships (its torch, its ipywidgets 7.7 above all) breaks Colab. Never torch."""
    have = installed_versions() if installed is None else installed
    return [
        dep
        for name, dep in _requirements(pyproject)
        if _key(name) not in have and _key(name) not in NEVER_INSTALL
    ]


def older_than_floor(pyproject: Path, installed: dict[str, str] | None = None) -> list[str]:
    """Installed requirements below the course's lower bound, as 'name version': left as
    they are, and said."""
    have = installed_versions() if installed is None else installed
    return [
        f"{name} {have[_key(name)]}"
        for name, dep in _requirements(pyproject)
        if _key(name) in have and _version_tuple(have[_key(name)]) < _floor(dep)
    ]


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True)


def _install_missing(pyproject: Path, pip: list[str]) -> None:
    """pip install the missing requirements with every installed distribution pinned as a
    constraint: pip may add packages, never upgrade or replace one (it fails instead)."""
    have = installed_versions()
    missing = missing_requirements(pyproject, have)
    if missing:
        pins = Path(tempfile.mkdtemp(prefix="course-")) / "installed.txt"
        pins.write_text("".join(f"{name}=={version}\n" for name, version in sorted(have.items())))
        _run([*pip, "-c", str(pins), *missing])
    old = older_than_floor(pyproject, have)
    if old:
        print(f"kept as installed, older than the course asks: {', '.join(old)}")


def colab_setup(repo_dir: str | os.PathLike = COLAB_DIR) -> bool:
    """On Colab: install ``course_lib`` from the cloned ``repo_dir`` without upgrading anything,
    point ``COURSE_DATA_DIR`` at its ``data/`` and work from its ``notebooks/`` folder, so
    paths are the same as in a local checkout. Elsewhere: do nothing, return False."""
    if "google.colab" not in sys.modules:
        return False
    repo = Path(repo_dir).resolve()
    if not (repo / "course_lib").is_dir() or not (repo / "pyproject.toml").is_file():
        raise ValueError(
            f"repo_dir={str(repo_dir)!r} is not allowed: it must be a clone of {repo_url()} "
            "(with course_lib/ and pyproject.toml)"
        )
    data = repo / "data"
    if not data.is_dir():
        raise ValueError(f"repo_dir={str(repo_dir)!r} has no data/ folder: the clone is incomplete")
    if os.environ.get(DATA_DIR_ENV) != str(data):  # not yet done in this session
        pip = [sys.executable, "-m", "pip", "install", "-q"]
        _run([*pip, "--no-deps", "--no-build-isolation", str(repo)])  # course_lib, no torch
        _install_missing(repo / "pyproject.toml", pip)
    os.environ[DATA_DIR_ENV] = str(data)
    if (repo / "notebooks").is_dir():
        os.chdir(repo / "notebooks")
    print(f"course_lib ready on Colab; data in {data}; installed packages left as they are")
    return True
