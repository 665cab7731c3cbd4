"""Launching the course: badge links, the Colab set-up (simulated, installing from a local
clone with no network) and scripts/add_badges.py on temporary copies of notebooks."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import nbformat
import pytest
import torch
import yaml

from course_lib import launch
from course_lib.runtime import DATA_DIR_ENV

ROOT = Path(__file__).resolve().parents[2]
import add_badges  # noqa: E402

# ------------------------------------------------------------------ links and badges


def test_links_come_from_repo_and_branch():
    nb = "04_what_sharing_means.ipynb"
    assert launch.binder_url(nb) == (
        f"https://mybinder.org/v2/gh/{launch.REPO}/{launch.BRANCH}?labpath=notebooks%2F{nb}"
    )
    assert launch.colab_url("notebooks/" + nb) == (
        f"https://colab.research.google.com/github/{launch.REPO}/blob/{launch.BRANCH}/notebooks/{nb}"
    )
    assert launch.binder_url().endswith(f"/{launch.BRANCH}?urlpath=lab")
    badges = launch.badges_markdown(nb)
    assert badges.count("![") == 2 and launch.binder_url(nb) in badges
    assert launch.colab_url(nb) in badges and launch.COLAB_BADGE in badges


@pytest.mark.parametrize("bad", ["../secret.ipynb", "start.ipynb", "00_start_here.py", ""])
def test_bad_notebook_name_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"^notebook=.*is not allowed: give a course notebook"):
        launch.colab_url(bad)


def test_repo_is_owner_slash_name_and_said_to_be_a_placeholder():
    assert re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", launch.REPO)
    assert "placeholder" in launch.__doc__
    assert "placeholder" in (ROOT / "README.md").read_text().lower()


def badge_links(text: str) -> list[str]:
    """Targets of badge links, [![alt](image)](target), not the badge images themselves."""
    return re.findall(
        r"\)\]\((https://(?:mybinder\.org|colab\.research\.google\.com)[^)]+)\)", text
    )


def test_readme_badges_are_current_and_point_at_real_notebooks():
    text = (ROOT / "README.md").read_text()
    assert launch.badges_markdown() in text.split("\n")
    links = badge_links(text)
    assert len(links) == 2
    for url in links:
        assert launch.REPO in url and f"/{launch.BRANCH}" in url
        m = re.search(r"notebooks(?:/|%2F)(\d\d_\w+\.ipynb)", url)
        if m:
            assert (ROOT / "notebooks" / m.group(1)).is_file(), url


def test_course_map_lists_every_notebook_with_study_time_and_launch_links():
    rows = [r for r in (ROOT / "README.md").read_text().split("\n") if re.match(r"^\| \d\d \| ", r)]
    listed = [re.search(r"\(notebooks/([\w.-]+\.ipynb)\)", r).group(1) for r in rows]
    assert listed == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    for row, name in zip(rows, listed, strict=True):
        assert re.search(r"\| \d+ min \|", row), row
        assert f"({launch.binder_url(name)})" in row and f"({launch.colab_url(name)})" in row


def test_every_notebook_has_the_current_badges_and_setup_cell():
    """Fails until `python scripts/add_badges.py` has been run after the last notebook edit."""
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    stale = [
        p.name
        for p in notebooks
        if not add_badges.notebook_is_current(nbformat.read(p, as_version=4), p.name)
    ]
    assert not stale, f"run `python scripts/add_badges.py`; stale: {stale}"


# ------------------------------------------------------------------ Binder


def test_binder_environment_matches_the_conda_environment():
    """binder/ names an exact Python (repo2docker reads only `python=X.Y`) and otherwise
    installs what environment.yml installs; course_lib itself comes from postBuild."""
    top = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    binder = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    assert binder["channels"] == ["conda-forge"]
    deps = binder["dependencies"]
    assert all(isinstance(d, str) for d in deps), "no pip section: postBuild installs course_lib"

    def packages(ds):
        return sorted(d for d in ds if isinstance(d, str) and not d.startswith("python"))

    assert packages(deps) == packages(top)
    pythons = [d for d in deps if re.fullmatch(r"python=\d+\.\d+", d)]
    assert len(pythons) == 1, "binder/environment.yml needs exactly one `python=X.Y`"
    floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    have = tuple(int(x) for x in pythons[0].split("=")[1].split("."))
    assert have >= tuple(int(x) for x in floor.removeprefix(">=").split("."))
    post = ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    assert re.search(r"pip install --no-deps -e \.$", post.read_text(), re.M)


# ------------------------------------------------------------------ Colab set-up


def test_off_colab_the_setup_does_nothing(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError(f"ran {args}")

    monkeypatch.setattr(subprocess, "run", refuse)
    cwd = os.getcwd()
    assert launch.colab_setup("/nonexistent") is False
    exec(launch.colab_cell_source(), {})  # the notebook cell itself
    assert os.getcwd() == cwd and DATA_DIR_ENV not in os.environ
    assert capsys.readouterr().out == ""  # empty stored output, as strict nbval expects


def test_setup_cell_is_ruff_clean_and_formatted(tmp_path):
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed next to this python")
    f = tmp_path / "cell.py"
    f.write_text(launch.colab_cell_source() + "\n")
    config = ["--config", str(ROOT / "pyproject.toml")]  # line length 100, as the notebooks
    subprocess.run([str(ruff), "check", "-q", *config, str(f)], check=True)
    subprocess.run([str(ruff), "format", "--check", "-q", *config, str(f)], check=True)


# What Colab ships (versions as on Colab in 2025): none of it may change; tqdm is missing.
COLAB = {"torch": "2.6.0+cu124", "ipywidgets": "7.7.1", "numpy": "2.0.2", "pandas": "2.2.2",
         "matplotlib": "3.10.0", "scikit-learn": "1.6.1", "packaging": "24.2"}  # fmt: skip
NOT_TO_UPGRADE = ("torch", "ipywidgets", "numpy", "pandas", "matplotlib", "scikit-learn")


def test_missing_requirements_are_only_the_absent_ones():
    pyproject = ROOT / "pyproject.toml"
    assert launch.missing_requirements(pyproject, COLAB) == ["tqdm>=4.66"]
    old = {**COLAB, "ipywidgets": "7.6.5", "numpy": "1.24.0"}  # below the floors: still kept
    assert launch.missing_requirements(pyproject, old) == ["tqdm>=4.66"]
    assert launch.older_than_floor(pyproject, old) == ["numpy 1.24.0", "ipywidgets 7.6.5"]
    assert launch.older_than_floor(pyproject, COLAB) == []
    bare = launch.missing_requirements(pyproject, {})  # nothing installed: all but torch
    assert len(bare) == len(tomllib.loads(pyproject.read_text())["project"]["dependencies"]) - 1
    assert not any(m.startswith("torch") for m in bare)
    assert launch.missing_requirements(pyproject) == []  # this venv has everything
    assert launch.installed_versions()["torch"] == torch.__version__


@pytest.mark.parametrize(
    "inventory", [COLAB, {**COLAB, "tqdm": "4.67.1"}], ids=["tqdm_missing", "complete"]
)
def test_colab_setup_upgrades_nothing_colab_ships(inventory, tmp_path, monkeypatch, capsys):
    """On a stand-in Colab: course_lib without dependencies, then only what is missing,
    with every installed distribution pinned so pip cannot upgrade it."""
    repo = _published_repo(tmp_path / "clone")
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(launch, "installed_versions", lambda: dict(inventory))
    commands = []
    monkeypatch.setattr(launch, "_run", commands.append)
    assert launch.colab_setup(repo) is True
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    assert commands[0] == [*pip, "--no-deps", "--no-build-isolation", str(repo.resolve())]
    if "tqdm" in inventory:
        assert len(commands) == 1
    else:
        assert len(commands) == 2 and commands[1][: len(pip)] == pip
        flag, pins, *requirements = commands[1][len(pip) :]
        assert flag == "-c" and requirements == ["tqdm>=4.66"]
        pinned = dict(line.split("==") for line in Path(pins).read_text().splitlines())
        assert pinned == inventory  # every installed package held at its version
    for cmd in commands:
        assert not any(arg.startswith(NOT_TO_UPGRADE) for arg in cmd[len(pip) :]), cmd
    assert os.environ[DATA_DIR_ENV] == str(repo.resolve() / "data")
    monkeypatch.setattr(launch, "_run", lambda cmd: pytest.fail(f"ran again: {cmd}"))
    assert launch.colab_setup(repo) is True  # the cell run twice installs nothing again
    assert "left as they are" in capsys.readouterr().out


def test_colab_setup_says_which_packages_are_older_than_asked(tmp_path, monkeypatch, capsys):
    repo = _published_repo(tmp_path / "clone")
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    old = {**COLAB, "tqdm": "4.67.1", "pandas": "1.5.3"}
    monkeypatch.setattr(launch, "installed_versions", lambda: old)
    commands = []
    monkeypatch.setattr(launch, "_run", commands.append)
    launch.colab_setup(repo)
    assert len(commands) == 1  # pandas 1.5.3 stays: no upgrade, a note instead
    assert "older than the course asks: pandas 1.5.3" in capsys.readouterr().out


def _published_repo(path: Path) -> Path:
    """A stand-in for the GitHub repository: the package, its metadata and a data folder."""
    path.mkdir()
    shutil.copytree(
        ROOT / "course_lib", path / "course_lib", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, path / name)
    (path / "data").mkdir()
    (path / "data" / "marker.txt").write_text("shipped data\n")
    (path / "notebooks").mkdir()
    (path / "notebooks" / ".keep").write_text("")
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "publish"], check=True)
    return path


SIMULATED_COLAB = """
import json, subprocess, sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")  # what Colab's kernel has
_real_run = subprocess.run
def _logged_run(cmd, *args, **kwargs):
    with open({log!r}, "a") as f:
        f.write(json.dumps([str(c) for c in cmd]) + "\\n")
    return _real_run(cmd, *args, **kwargs)
subprocess.run = _logged_run
exec({cell!r})
exec({cell!r})  # a learner runs the cell twice: nothing is cloned or installed again
import os, torch, course_lib
print(json.dumps({{"torch": torch.__file__, "version": torch.__version__, "cwd": os.getcwd(),
                  "course_lib": course_lib.__file__, "data": os.environ[{env!r}]}}))
"""


def test_colab_setup_installs_course_lib_keeps_torch_and_finds_data(tmp_path):
    # colab_setup builds course_lib with --no-build-isolation (Colab has setuptools); here
    # that also keeps pip offline. Python 3.12+ venvs ship without setuptools.
    pytest.importorskip("setuptools", reason="building course_lib offline needs setuptools")
    repo = _published_repo(tmp_path / "published")
    clone, target, log = tmp_path / "content" / "course", tmp_path / "target", tmp_path / "log"
    cell = launch.colab_cell_source(url=str(repo), dest=str(clone))
    script = SIMULATED_COLAB.format(log=str(log), cell=cell, env=DATA_DIR_ENV)
    env = {k: v for k, v in os.environ.items() if k != DATA_DIR_ENV}
    # pip installs into a scratch folder and may not reach any index: fully offline
    env.update(PIP_TARGET=str(target), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads(done.stdout.strip().splitlines()[-1])
    commands = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c[:2] for c in commands] == [["git", "clone"], [sys.executable, "-m"]]
    pip = commands[1]
    assert pip[2:4] == ["pip", "install"] and "--no-deps" in pip and pip[-1] == str(clone)
    for cmd in commands:  # torch is never named, so pip can never reinstall it
        assert not any(re.match(r"torch\b", arg) for arg in cmd), cmd
    assert state["torch"] == torch.__file__ and state["version"] == torch.__version__
    assert Path(state["course_lib"]).is_relative_to(clone)
    assert Path(state["data"]) == clone / "data"
    assert (Path(state["data"]) / "marker.txt").read_text() == "shipped data\n"
    assert Path(state["cwd"]) == clone / "notebooks"  # relative paths work as locally
    assert (target / "course_lib" / "launch.py").is_file()  # pip did install the package
    assert not list(target.glob("torch*"))
    assert "left as they are" in done.stdout


def test_setup_rejects_a_folder_that_is_not_a_clone(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    with pytest.raises(ValueError, match=r"^repo_dir=.*is not allowed: it must be a clone"):
        launch.colab_setup(tmp_path)


# ------------------------------------------------------------------ add_badges.py


def _demo_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 99 A demo\n\nGoal: ..."),
        nbformat.v4.new_code_cell("print(1 + 1)", execution_count=1),
        nbformat.v4.new_markdown_cell("## 1. Next"),
    ]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    nbformat.write(nb, path)


def test_add_badges_inserts_once_and_check_mode_agrees(tmp_path, monkeypatch, capsys):
    demo = tmp_path / "99_demo.ipynb"
    _demo_notebook(demo)
    paths = [demo]
    real = ROOT / "notebooks" / "10_beyond_text.ipynb"
    if real.exists():  # also a copy of a real notebook
        paths.append(tmp_path / real.name)
        shutil.copy(real, paths[-1])
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\nText.\n")
    args = [str(p) for p in paths] + ["--readme", str(readme)]

    assert add_badges.main([*args, "--check"]) == 1
    assert add_badges.main(args) == 0
    first = {p: p.read_bytes() for p in [*paths, readme]}
    assert add_badges.main(args) == 0  # second run: byte-identical files
    assert {p: p.read_bytes() for p in first} == first
    assert add_badges.main([*args, "--check"]) == 0
    assert readme.read_text() == f"# Title\n\n{launch.badges_markdown()}\n\nText.\n"

    nb = nbformat.read(demo, as_version=4)
    assert [c.cell_type for c in nb.cells] == ["markdown", "markdown", "code", "code", "markdown"]
    assert nb.cells[0].source == launch.badges_markdown("99_demo.ipynb")
    assert nb.cells[2].source == launch.colab_cell_source() and nb.cells[2].outputs == []
    assert nb.cells[3].outputs[0]["text"] == "2\n"  # the notebook's own cells untouched
    nbformat.validate(nb)

    monkeypatch.setattr(launch, "REPO", "someone-else/course")  # the address moves
    capsys.readouterr()
    assert add_badges.main([*args, "--check"]) == 1
    assert "stale" in capsys.readouterr().out
    assert add_badges.main(args) == 0
    nb = nbformat.read(demo, as_version=4)
    assert "someone-else/course" in nb.cells[0].source and len(nb.cells) == 5
    assert "someone-else/course" in nb.cells[2].source


def test_add_badges_rejects_a_bad_path(tmp_path, capsys):
    with pytest.raises(SystemExit):
        add_badges.main([str(tmp_path / "nope.ipynb"), "--check"])
    assert "is not an existing .ipynb file" in capsys.readouterr().err


def test_binder_and_ci_install_the_cjk_font_of_the_chinese_figures():
    """The Chinese notebooks' figure text needs a CJK font (course_lib.views.figures.F_)."""
    apt = (ROOT / "binder" / "apt.txt").read_text().split("\n")
    assert "fonts-wqy-microhei" in [line.strip() for line in apt if not line.startswith("#")]
    assert "fonts-wqy-microhei" in (ROOT / ".ci" / "run").read_text()
