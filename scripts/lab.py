"""``make lab``: JupyterLab on the course, wherever the learner is (README, notebook 00).

- As root (Docker, most cloud notebooks, a fresh VM) it passes ``--allow-root``, and only then.
- Without a display (a server, a container, an SSH session) it passes ``--no-browser``.
- When the port is taken, Jupyter tries the next ones (``port_retries``).
- In every case it prints the URL to open, read from the server's own runtime file once
  the server listens, so the port and token shown are the ones really in use.

Extra arguments go to ``jupyter lab``: ``make lab LAB_ARGS="--port=9999"``. Run with the
course's Python (the Makefile uses ``$(VENV)/bin/python``); JupyterLab comes from there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = "notebooks/00_start_here.ipynb"  # what the browser opens, relative to ROOT
WAIT_S = 120  # for the server's runtime file; the server keeps running after that


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def is_headless(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """True where no browser can be opened here: Linux/BSD without an X or Wayland
    display, or any system reached over SSH without one."""
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return False
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return True
    return bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY"))


def lab_command(extra: list[str], root: bool, headless: bool) -> list[str]:
    """The ``jupyter lab`` command line: flags chosen for this machine, then ``extra``."""
    cmd = [sys.executable, "-m", "jupyterlab", START, "--ServerApp.port_retries=50"]
    if root:
        cmd.append("--allow-root")
    if headless:
        cmd.append("--no-browser")
    return cmd + list(extra)


def server_url(runtime_dir: Path, pid: int) -> str | None:
    """The URL of the notebook on the server ``pid``, once its runtime file is written."""
    try:
        info = json.loads((runtime_dir / f"jpserver-{pid}.json").read_text())
    except (OSError, ValueError):  # not written yet, or half written
        return None
    query = f"?token={info['token']}" if info.get("token") else ""
    page = os.path.relpath(
        ROOT / START, info.get("root_dir", ROOT)
    )  # Jupyter serves START's folder
    tree = "" if page.startswith("..") else "/tree/" + Path(page).as_posix()
    return f"{info['url'].rstrip('/')}/lab{tree}{query}"


def main(argv: list[str]) -> int:
    from jupyter_core.paths import jupyter_runtime_dir

    runtime_dir = Path(jupyter_runtime_dir())
    headless = is_headless()
    proc = subprocess.Popen(lab_command(argv, is_root(), headless), cwd=ROOT)
    # Ctrl-C reaches the server (same terminal), which asks before stopping; this launcher
    # waits for it. A termination signal sent to the launcher is passed on to the server.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: proc.terminate())
    deadline = time.monotonic() + WAIT_S
    while proc.poll() is None and time.monotonic() < deadline:
        url = server_url(runtime_dir, proc.pid)
        if url:
            where = "in a browser" if headless else "if no browser window opened"
            print(f"\nJupyterLab is running. Open this URL {where}:\n\n    {url}\n", flush=True)
            print("Stop it with Ctrl-C in this terminal.\n", flush=True)
            break
        time.sleep(0.2)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
