"""The README's two commands exist as written, CI calls the test one, and the lab one serves."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lab_server_answers(tmp_path):
    """What `make lab` starts (jupyter lab on the notebooks) answers on localhost."""
    port, token = free_port(), "course-test-token"
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path),
    }
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={ROOT}",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/api/contents/notebooks?token={token}"
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    body = r.read().decode()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        assert "00_start_here.ipynb" in body
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
