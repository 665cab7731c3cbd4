"""The sharing explorer of notebook 04 in a real browser: JupyterLab + Chromium.

Starts JupyterLab on a free localhost port (token, a temporary copy of the notebook with
its outputs stripped, settings with notifications off and every cell kept in the page),
opens the notebook in Debian's Chromium driven by Playwright, runs all cells from the Run
menu, then moves the depth slider with the keyboard and switches sharing with the
explorer's own controls. After each change the parameter count the page shows must equal
``count_parameters(build_model(cfg))`` for the configuration read back from the page.
A screenshot of the explorer goes to ``build/screenshots/explorer.png``.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``) and the ``playwright`` package;
Playwright's own browser download is never used. Without them the test is skipped, except
under CI (``CI`` set), where it fails instead.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from course_lib import ModelConfig, build_model, count_parameters, count_parameters_per_use

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "04_what_sharing_means.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = ROOT / "build" / "screenshots" / "explorer.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SETTINGS = {  # JupyterLab user settings: nothing pops up, every cell stays in the DOM
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,  # no "Select Kernel" dialog over the page
    },
}
BLOCK_STRATEGIES = ("sequence", "cycle", "cycle_rev")
RUN_ALL_TIMEOUT_MS = 60_000


def _browser_or_skip():
    """Playwright's sync API, or skip (fail under CI) when it or Chromium is missing."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("the playwright package (pip install playwright)")
        sync_playwright = None
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must run it")
        pytest.skip(reason)
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stripped_copy(dest: Path) -> Path:
    """The notebook without outputs or saved widget state: all the page shows is live."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"  # else a kernel dialog blocks
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    path = dest / NOTEBOOK.name
    nbformat.write(nb, path)
    return path


@pytest.fixture
def jupyter_lab(tmp_path):
    """(base URL, token) of a JupyterLab serving a stripped copy of notebook 04."""
    work = tmp_path / "work"
    work.mkdir()
    _stripped_copy(work)
    settings = tmp_path / "settings"
    for name, values in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = _free_port(), "course-browser-test"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "COURSE_MODE": "FAST",
        "OMP_NUM_THREADS": "1",
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
    ]  # fmt: skip
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text())
                time.sleep(0.3)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _shown_counts(explorer) -> tuple[int, int]:
    """(unique, per-use) parameter counts as the page shows them."""
    counts = []
    for label in ("unique parameters", "parameters per use"):
        text = explorer.locator(".widget-label", has_text=label).inner_text()
        counts.append(int(re.search(r": ([\d,]+)$", text.strip()).group(1).replace(",", "")))
    return counts[0], counts[1]


def _expected_counts(cfg: ModelConfig) -> tuple[int, int]:
    model = build_model(cfg)
    return count_parameters(model), count_parameters_per_use(model)


def _config_shown(explorer) -> ModelConfig:
    """The ModelConfig the explorer's controls describe, read back from the page."""

    def slider(label: str) -> int:
        box = explorer.locator(".widget-slider", has=explorer.page.get_by_text(label, exact=True))
        return int(box.locator(".widget-readout").inner_text())

    def number(name: str) -> int:
        box = explorer.locator(".widget-text", has=explorer.page.get_by_text(name, exact=True))
        return int(box.locator("input").input_value())

    def dropdown(name: str) -> str:
        box = explorer.locator(".widget-dropdown", has=explorer.page.get_by_text(name, exact=True))
        return box.locator("select").input_value()

    sharing = dropdown("sharing")
    tie = explorer.locator(".widget-checkbox", has_text="tie_embeddings").locator("input")
    return ModelConfig(
        vocab_size=number("vocab_size"), d_model=number("d_model"), n_heads=number("n_heads"),
        d_ff=number("d_ff"), embed_dim=number("embed_dim"), task=dropdown("task"),
        n_layers=slider("n_layers (N)"), sharing=sharing,
        n_blocks=slider("n_blocks (M)") if sharing in BLOCK_STRATEGIES else None,
        tie_embeddings=tie.is_checked(),
    )  # fmt: skip


def _plan_table(explorer) -> str:
    return explorer.locator(".widget-html pre").inner_text()


def _wait_for_redraw(page, explorer, previous_table: str) -> str:
    """The layer -> weights table once the kernel redrew it (it is set after the counts)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        table = _plan_table(explorer)
        if table != previous_table:
            return table
        page.wait_for_timeout(100)
    raise AssertionError("the explorer did not redraw: the kernel did not answer the change")


def _wait_for_one_settled_kernel(base: str, token: str) -> None:
    """JupyterLab may start a kernel and replace it a moment later: wait until the
    notebook has one session whose kernel stayed the same, idle, for two seconds."""
    deadline, last, since = time.monotonic() + 60, None, time.monotonic()
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=5) as r:
            sessions = json.load(r)
        now = [(s["kernel"]["id"], s["kernel"]["execution_state"]) for s in sessions]
        if now != last:
            last, since = now, time.monotonic()
        elif len(now) == 1 and now[0][1] == "idle" and time.monotonic() - since > 2:
            return
        time.sleep(0.25)
    raise AssertionError(f"the notebook's kernel did not settle: {last}")


def _run_all_cells(page, done) -> None:
    """Run > Run All Cells, as a learner would, until ``done`` (a locator) shows up; once
    more if the run stopped early (a kernel replaced under it leaves every prompt empty)."""
    running = page.locator(".jp-Notebook .jp-InputPrompt", has_text="[*]")
    idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    for _ in range(3):
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        started, quiet_since = time.monotonic(), None
        while time.monotonic() - started < RUN_ALL_TIMEOUT_MS / 1000:
            if done.count():
                return
            if running.count() or not idle.count():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 5:
                break  # nothing runs and nothing is done: run again
            page.wait_for_timeout(250)
    raise AssertionError("Run All Cells did not run the notebook to its last cell")


def test_explorer_in_a_real_browser_shows_the_model_count(jupyter_lab):
    sync_playwright = _browser_or_skip()
    base, token = jupyter_lab
    started = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000
            )

            _wait_for_one_settled_kernel(base, token)
            last = page.locator(".jp-Notebook .jp-CodeCell").last
            # done: the last code cell has run (an execution count in its prompt), whatever it shows
            _run_all_cells(page, last.locator(".jp-InputPrompt", has_text=re.compile(r"\[\d+\]")))
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=30_000
            )
            errors = page.locator(".jp-OutputArea-output[data-mime-type*='error']")
            assert errors.count() == 0, errors.first.inner_text()

            explorer = page.locator(".jp-OutputArea-output", has=page.locator(".widget-slider"))
            assert explorer.count() == 1, "exactly one output holds the explorer"
            explorer.scroll_into_view_if_needed()
            start_cfg = _config_shown(explorer)
            assert (start_cfg.sharing, start_cfg.n_layers, start_cfg.n_blocks) == ("cycle", 12, 3)
            table = _plan_table(explorer)
            assert table.startswith("plan 'cycle': 12 layers")
            start_counts = _shown_counts(explorer)
            assert start_counts == _expected_counts(start_cfg)

            # 1. one step deeper: keyboard on the n_layers slider handle
            depth = explorer.locator(
                ".widget-slider", has=page.get_by_text("n_layers (N)", exact=True)
            )
            depth.locator(".noUi-handle").focus()
            page.keyboard.press("ArrowRight")
            table = _wait_for_redraw(page, explorer, table)
            deeper = _config_shown(explorer)
            assert deeper.n_layers == start_cfg.n_layers + 1
            assert _shown_counts(explorer) == _expected_counts(deeper), deeper
            # CYCLE with M = 3 blocks: one layer more stores nothing more, but computes more
            assert _shown_counts(explorer)[0] == start_counts[0]
            assert _shown_counts(explorer)[1] > start_counts[1]
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            explorer.screenshot(path=str(SCREENSHOT))

            # 2. sharing: ALBERT "all", then switch attention sharing off -> "ffn"
            explorer.locator(".widget-dropdown select").first.select_option("all")
            table = _wait_for_redraw(page, explorer, table)
            albert = _config_shown(explorer)
            assert albert.sharing == "all"
            assert _shown_counts(explorer) == _expected_counts(albert), albert
            switch = explorer.locator(".widget-checkbox", has_text="share attention")
            switch.locator("input").uncheck()
            _wait_for_redraw(page, explorer, table)
            final = _config_shown(explorer)
            assert (final.sharing, final.n_layers) == ("ffn", start_cfg.n_layers + 1)
            assert _shown_counts(explorer) == _expected_counts(final), final
        except Exception:  # keep what the page showed for the failure report
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT.with_name("explorer-failure.png")))
            raise
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 5_000
    assert time.monotonic() - started < 90, "keep the browser test under 90 s"


def test_without_a_browser_it_skips_locally_and_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-chromium"):
        _browser_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run it"):
        _browser_or_skip()
