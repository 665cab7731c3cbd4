"""The README's two commands exist as written, CI calls the test one, and the lab one serves."""

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
import lab  # noqa: E402


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block, "README.md must open with a code block of set-up commands"
    lines = (line.split("#")[0].strip() for line in block.group(1).splitlines())
    return [line for line in lines if line]


def test_readme_opens_with_lab_and_test():
    assert readme_commands()[:2] == ["make lab", "make test"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_makefile_installs_pinned_cpu_torch_first():
    script = (ROOT / "scripts" / "ensure_venv.sh").read_text()
    first_torch = script.index('"torch==2.13.0"')
    assert first_torch < script.index('-e ".[dev]"')


def test_make_lab_runs_the_launcher():
    """`make lab` = the venv check, then scripts/lab.py with the venv's Python."""
    out = subprocess.run(["make", "-n", "-s", "lab", "VENV=.venv"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.splitlines()  # fmt: skip
    assert [line.strip() for line in out] == [
        "bash scripts/ensure_venv.sh",
        ".venv/bin/python scripts/lab.py",
    ], out


def test_make_test_runs_the_widget_tests_under_ipywidgets_7():
    """Colab ships ipywidgets 7.7: `make test` runs the widget tests under it too."""
    dry = subprocess.run(["make", "-n", "test", "VENV=.venv"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert "ipywidgets==7.7." in dry and "COURSE_IPYWIDGETS=7" in dry
    for test in ("tests/views/test_widgets.py", "tests/catalogues/test_bad_inputs_widgets.py"):
        assert test in dry.split("COURSE_IPYWIDGETS=7", 1)[1]
    assert dry.index("COURSE_IPYWIDGETS=7") < dry.index("--nbval")


@pytest.mark.parametrize(
    "root, headless, has, lacks",
    [
        (True, True, ["--allow-root", "--no-browser"], []),
        (False, True, ["--no-browser"], ["--allow-root"]),
        (True, False, ["--allow-root"], ["--no-browser"]),
        (False, False, [], ["--allow-root", "--no-browser"]),
    ],
)
def test_lab_flags_follow_the_machine(root, headless, has, lacks):
    cmd = lab.lab_command(["--port=9999"], root=root, headless=headless)
    assert cmd[:4] == [sys.executable, "-m", "jupyterlab", lab.START]
    assert cmd[-1] == "--port=9999" and "--ServerApp.port_retries=50" in cmd
    assert all(f in cmd for f in has) and not any(f in cmd for f in lacks)


@pytest.mark.parametrize(
    "env, platform, headless",
    [
        ({}, "linux", True),  # a container, a server
        ({"DISPLAY": ":0"}, "linux", False),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
        ({}, "darwin", False),
        ({"SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"}, "darwin", True),
        ({}, "win32", False),
    ],
)
def test_headless_detection(env, platform, headless):
    assert lab.is_headless(env, platform) is headless


def read_url(proc: subprocess.Popen, deadline: float) -> str:
    """The URL line the launcher prints, read without blocking past ``deadline``."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            assert proc.poll() is None, "the launcher stopped:\n" + "".join(seen)
            continue
        seen.append(line)
        m = re.match(r"^    (http://\S+)$", line.rstrip("\n"))
        if m:
            return m.group(1)
    raise AssertionError("no URL printed in time:\n" + "".join(seen))


def test_lab_launcher_serves_on_another_port_when_its_port_is_taken(tmp_path):
    """The launcher as `make lab` runs it, headless (no DISPLAY), as this user (root in CI
    and containers: --allow-root), its port taken: it prints a URL that answers."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTERLAB_SETTINGS_DIR=str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cmd = [sys.executable, str(ROOT / "scripts" / "lab.py"), f"--port={port}",
               "--ServerApp.ip=127.0.0.1"]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
        try:
            url = read_url(proc, time.monotonic() + 90)
            parts = urllib.parse.urlsplit(url)
            assert parts.hostname == "127.0.0.1" and parts.port != port
            assert parts.path == "/lab/tree/00_start_here.ipynb" and "token=" in parts.query
            with urllib.request.urlopen(url, timeout=10) as r:
                assert r.status == 200
            api = f"http://127.0.0.1:{parts.port}/api/contents?{parts.query}"
            with urllib.request.urlopen(api, timeout=10) as r:
                assert "00_start_here.ipynb" in r.read().decode()
            proc.terminate()  # the launcher passes it on and returns the server's status
            assert proc.wait(timeout=30) == 0
            with pytest.raises(OSError):
                urllib.request.urlopen(url, timeout=5)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
