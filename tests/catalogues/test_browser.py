"""The course's widgets in a real browser: JupyterLab + Chromium.

Starts JupyterLab on a free localhost port (token, a temporary copy of notebook 04 with
its outputs stripped, a small "gallery" notebook, settings with notifications off and every
cell kept in the page), opens them in Debian's Chromium driven by Playwright and runs all
cells from the Run menu.

- Notebook 04: the test moves the depth slider with the keyboard and switches sharing with
  the explorer's own controls. After each change the parameter count the page shows must
  equal ``count_parameters(build_model(cfg))`` for the configuration read back from the page.
- Fit (issue 24): with N moved to 22, and in the gallery (the training panel of notebook 06
  with a plan that diverged, a quiz with its feedback, explorers showing an error and
  13-digit counts), no widget label or value may be cut: at window widths 1400 px
  (JupyterLab's default) and 1024 px, and at a width whose output area is about 800 px
  wide (Colab's), every ``.widget-label``, ``.widget-html-content`` and ``.widget-readout``
  must be as wide as its text (``scrollWidth <= clientWidth``) and end inside every box
  that clips it, its output area included; so must every image and table cell there.

Screenshots go to ``build/screenshots/``. ``COURSE_LIB_PATH=<folder>`` runs the kernels on the
``course_lib`` inside that folder instead of this checkout's (the way to show that the fit
check fails on an older layout), its screenshots in ``build/screenshots/other-lib/``. Needs ``/usr/bin/chromium`` (``apt-get install chromium``)
and the ``playwright`` package; Playwright's own browser download is never used. Without them
the test is skipped, except under CI (``CI`` set), where it fails instead.
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

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "04_what_sharing_means.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = (
    ROOT / "build" / "screenshots" / ("other-lib" if os.environ.get("COURSE_LIB_PATH") else "")
)
SCREENSHOT = SCREENSHOTS / "explorer.png"
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
WINDOW_WIDTHS = (1400, 1024)  # JupyterLab's default window, a small laptop's
COLAB_OUTPUT_WIDTH = 800  # Colab's output area is about this wide
GALLERY = "widget_gallery.ipynb"
GALLERY_CELLS = [  # what notebook 04 does not show: the 06 panel, a quiz, extreme readouts
    """from course_lib import ModelConfig, TrainConfig, build_model, count_parameters
from course_lib.exercises.quiz import QuizWidget, quiz
from course_lib.exercises.quizzes import get_question
from course_lib.training.step import TrainingDiverged
from course_lib.views.explorer import SharingExplorer
from course_lib.views.training_panel import DEFAULT_PLANS, TrainingPanel


def runner(cfg, train_cfg, dataset, progress):  # made-up metrics; the ffn plan diverges
    if cfg.sharing == "ffn":
        raise TrainingDiverged(83, 0.5, "the loss is nan", peak_lr=0.5)
    n = count_parameters(build_model(cfg))
    return {"sharing": cfg.sharing, "n_layers": cfg.n_layers, "n_blocks": cfg.n_blocks,
            "unique_params": n, "per_use_params": n * cfg.n_layers, "accuracy": 0.5 + n / 1e8,
            "val_loss": 0.6931, "train_time_s": 12.345, "tokens_per_s": 123456.7}""",
    """panel = TrainingPanel(ModelConfig.preset("tiny"), TrainConfig(steps=1, warmup_steps=0),
                      selected=tuple(DEFAULT_PLANS), runner=runner, progress=False)
panel.train()
panel""",
    'quiz("04-flops")',
    """answered = QuizWidget(get_question("04-flops"))
answered.choose(0)
answered""",
    'SharingExplorer(strategy="cycle", n_layers=4, n_blocks=6)  # an error message',
    """SharingExplorer(strategy="none", n_layers=24, vocab_size=2**40, d_model=1024, n_heads=8,
                d_ff=4096, embed_dim=1024)  # 13-digit counts""",
]
FIT_CHECK = """() => {
  const bad = [];
  const sel = ['.widget-label', '.widget-label-basic', '.widget-html-content', '.widget-readout',
               'img', 'td', 'th'].map((c) => '.jp-OutputArea-output ' + c).join(', ');
  for (const el of document.querySelectorAll(sel)) {
    if (!el.offsetParent) continue;  // not shown (an empty description)
    const text = (el.innerText || el.getAttribute('alt') || el.tagName).trim().slice(0, 70);
    const what = `${el.className} '${text}'`;
    if (el.tagName !== 'IMG' && el.scrollWidth > el.clientWidth) {
      bad.push(`${what}: needs ${el.scrollWidth}px, has ${el.clientWidth}px`);
      continue;
    }
    const r = el.getBoundingClientRect(), area = el.closest('.jp-OutputArea-output');
    for (let box = el.parentElement; box; box = box.parentElement) {  // up to the output area
      if (box === area || getComputedStyle(box).overflowX !== 'visible') {  // a box that clips
        const b = box.getBoundingClientRect();
        if (r.right > b.right + 1) {
          bad.push(`${what}: ends at x=${Math.round(r.right)}, the box that clips it ` +
                   `(${box.className}) at x=${Math.round(b.right)}`);
          break;
        }
      }
      if (box === area) break;
    }
  }
  return bad;
}"""


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
    gallery = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in GALLERY_CELLS])
    gallery.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}  # fmt: skip
    nbformat.write(gallery, work / GALLERY)
    settings = tmp_path / "settings"
    for name, values in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = _free_port(), "course-browser-test"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(
                None, [os.environ.get("COURSE_LIB_PATH"), str(ROOT), os.environ.get("PYTHONPATH")]
            )
        ),
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
        shown = explorer.locator(".widget-html-content, .widget-label", has_text=label)  # new, old
        text = shown.inner_text()
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


def _open_and_run(page, base: str, token: str, name: str) -> None:
    """Open a notebook of the served folder and run all its cells; no error output."""
    page.goto(f"{base}/lab/tree/{name}?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    _wait_for_one_settled_kernel(base, token)
    last = page.locator(".jp-Notebook .jp-CodeCell").last
    # done: the last code cell has run (an execution count in its prompt), whatever it shows
    _run_all_cells(page, last.locator(".jp-InputPrompt", has_text=re.compile(r"\[\d+\]")))
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=30_000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type*='error']")
    assert errors.count() == 0, errors.first.inner_text()


def _cut_at_each_width(page, shoot, tag: str) -> list[str]:
    """What the fit check finds at each window width, the last one sized so that the
    output area is about as wide as Colab's; ``shoot(path)`` takes a screenshot at each."""
    problems, widths = [], list(WINDOW_WIDTHS)
    for width in widths:
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(600)  # relayout, and the widgets' own resize handlers
        area = page.locator(".jp-OutputArea-output").first.bounding_box()["width"]
        if len(widths) == len(WINDOW_WIDTHS):  # from the last width: Colab's output area
            widths.append(round(width - (area - COLAB_OUTPUT_WIDTH)))
        problems += [f"window {width}px (output area {area:.0f}px): {p}"
                     for p in page.evaluate(FIT_CHECK)]  # fmt: skip
        shoot(SCREENSHOTS / f"{tag}-{width}.png")
    return problems


def test_explorer_in_a_real_browser_shows_the_model_count(jupyter_lab):
    sync_playwright = _browser_or_skip()
    base, token = jupyter_lab
    started = time.monotonic()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": WINDOW_WIDTHS[0], "height": 1000})
            _open_and_run(page, base, token, NOTEBOOK.name)
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
            explorer.screenshot(path=str(SCREENSHOT))

            # 2. sharing: ALBERT "all", then switch attention sharing off -> "ffn"
            explorer.locator(".widget-dropdown select").first.select_option("all")
            table = _wait_for_redraw(page, explorer, table)
            albert = _config_shown(explorer)
            assert albert.sharing == "all"
            assert _shown_counts(explorer) == _expected_counts(albert), albert
            switch = explorer.locator(".widget-checkbox", has_text="share attention")
            switch.locator("input").uncheck()
            table = _wait_for_redraw(page, explorer, table)
            final = _config_shown(explorer)
            assert (final.sharing, final.n_layers) == ("ffn", start_cfg.n_layers + 1)
            assert _shown_counts(explorer) == _expected_counts(final), final

            # 3. issue 24's case: N from 13 to 22, then every label and number whole
            depth.locator(".noUi-handle").focus()
            for _ in range(22 - final.n_layers):
                page.keyboard.press("ArrowRight")
            deadline = time.monotonic() + 20
            while not _plan_table(explorer).startswith("plan 'ffn': 22 layers"):
                assert time.monotonic() < deadline, "the explorer did not redraw at N = 22"
                page.wait_for_timeout(100)
            assert _shown_counts(explorer) == _expected_counts(_config_shown(explorer))
            cut = _cut_at_each_width(
                page, lambda path: explorer.screenshot(path=str(path)), "explorer"
            )
            assert cut == [], "cut off in notebook 04:\n" + "\n".join(cut)
        except Exception:  # keep what the page showed for the failure report
            page.screenshot(path=str(SCREENSHOT.with_name("explorer-failure.png")))
            raise
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 5_000
    assert time.monotonic() - started < 120, "keep the browser test under 120 s"


def test_panel_quiz_and_extreme_explorers_fit_their_output_areas(jupyter_lab):
    sync_playwright = _browser_or_skip()
    base, token = jupyter_lab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": WINDOW_WIDTHS[0], "height": 1000})
            _open_and_run(page, base, token, GALLERY)
            status = page.locator(".jp-OutputArea-output .widget-html-content",
                                  has_text="not trained").first  # fmt: skip
            assert "ffn: training diverged at step 83" in status.inner_text()
            assert page.locator(".jp-OutputArea-output table").count() >= 1  # the panel's table
            cells = page.locator(".jp-Notebook .jp-CodeCell")

            def shoot(path: Path) -> None:  # the panel, then each of the other outputs
                for i in range(1, cells.count()):
                    cells.nth(i).screenshot(path=str(path.with_stem(f"{path.stem}-cell{i}")))

            cut = _cut_at_each_width(page, shoot, "gallery")
            assert cut == [], "cut off in the widget gallery:\n" + "\n".join(cut)
        except Exception:
            page.screenshot(path=str(SCREENSHOTS / "gallery-failure.png"))
            raise
        finally:
            browser.close()


def test_without_a_browser_it_skips_locally_and_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-chromium"):
        _browser_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run it"):
        _browser_or_skip()
