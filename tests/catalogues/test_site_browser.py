"""The course site in a real browser: Debian's Chromium driven by Playwright, offline.

Builds the site (``build_site.ensure_built``: shared with tests/catalogues/test_site.py, rebuilt
when an input changed), serves it on a free localhost port, blocks every request that
leaves localhost (each one is a failure: the site must work offline), then

- searches a term of notebook 05 on the search page and finds notebook 05;
- walks the "next" links from the home page to the last page and the "previous" links
  back, and finds every page of the sidebar, in course order, both ways;
- on every page, checks that each image has loaded (``naturalWidth > 0``) and, on a
  notebook page, that the title and goal sit above the first code in view;
- on a phone-sized page, opens the sidebar from the article header's menu button;
- keeps a screenshot of notebook 05's page in ``build/screenshots/site.png``.

Needs ``/usr/bin/chromium`` and the ``playwright`` package; skipped without them, except
under CI (``CI`` set), where it fails instead (as tests/catalogues/test_browser.py).
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from pathlib import Path

import pytest
from test_browser import CHROMIUM, CHROMIUM_ARGS, _browser_or_skip

ROOT = Path(__file__).resolve().parents[2]
import build_site  # noqa: E402

SITE_TEST = ROOT / "build" / "site-test"
SCREENSHOT = ROOT / "build" / "screenshots" / "site.png"
NB05 = ROOT / "notebooks" / "05_sharing_strategies.ipynb"
SEARCH_TERM = "sandwich"  # sandwich sharing, section 5 of notebook 05
BROKEN_IMAGES = """() => [...document.images]
  .filter((img) => !(img.complete && img.naturalWidth > 0))
  .map((img) => img.getAttribute('src') + ' alt=' + img.getAttribute('alt'))"""
LESSON_FIRST = """() => {
  const art = document.querySelector('article.bd-article');
  const goal = [...art.querySelectorAll('p')].find((p) => p.textContent.startsWith('Goal.'));
  const code = [...art.querySelectorAll('.cell_input')].find((c) => c.offsetParent !== null);
  const top = (el) => el ? el.getBoundingClientRect().top : Infinity;
  return {h1: top(art.querySelector('h1')), goal: top(goal), code: top(code)};
}"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log in the test output
        pass


@pytest.fixture(scope="module")
def served():
    """(base URL, page names in course order) of the built site on localhost."""
    sync_playwright = _browser_or_skip()
    site = build_site.ensure_built(SITE_TEST)
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", sync_playwright, site
    finally:
        server.shutdown()
        server.server_close()


def _sidebar_order(site: Path) -> list[str]:
    nav = re.search(
        r'<nav class="[^"]*bd-docs-nav[^"]*"[^>]*>(.*?)</nav>',
        (site / "index.html").read_text(),
        re.S,
    )
    links = re.findall(r'class="reference internal" href="([^"#]+)\.html"', nav.group(1))
    return ["index", *links]


def test_site_in_chromium(served):
    base, sync_playwright, site = served
    order = _sidebar_order(site)
    stems = [p.stem for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    assert order[1 : 1 + len(stems)] == stems
    assert SEARCH_TERM in NB05.read_text().lower(), "pick a search term that notebook 05 has"
    remote: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def offline(route):
                if route.request.url.startswith(base):
                    route.continue_()
                else:
                    remote.append(route.request.url)
                    route.abort()

            page.route("**/*", offline)

            # 1. offline full-text search
            page.goto(f"{base}/search.html?q={SEARCH_TERM}")
            page.wait_for_selector("#search-results ul.search li", timeout=20_000)
            hits = page.eval_on_selector_all(
                "#search-results ul.search li a", "els => els.map(e => e.getAttribute('href'))"
            )
            assert any(h.startswith("05_sharing_strategies.html") for h in hits), hits

            # 2. next links from the home page to the last page, then previous links back
            page.goto(f"{base}/index.html")
            seen, broken, lessons = [], {}, {}
            while True:
                page.wait_for_load_state("load")
                name = page.url.rsplit("/", 1)[1].split("#")[0].removesuffix(".html")
                seen.append(name)
                if bad := page.evaluate(BROKEN_IMAGES):
                    broken[name] = bad
                if re.match(r"\d\d_", name):
                    lessons[name] = page.evaluate(LESSON_FIRST)
                if name == "05_sharing_strategies":
                    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(SCREENSHOT))
                nxt = page.locator("a.right-next")
                if nxt.count() == 0 or len(seen) > len(order):
                    break
                nxt.first.click()
            assert seen == order, f"next links: {seen}"
            back = [seen[-1]]
            while page.locator("a.left-prev").count() and len(back) <= len(order):
                page.locator("a.left-prev").first.click()
                page.wait_for_load_state("load")
                back.append(page.url.rsplit("/", 1)[1].split("#")[0].removesuffix(".html"))
            assert back == order[::-1], f"previous links: {back}"

            # 3. on a phone the sidebar opens from the article header's menu button
            phone = browser.new_page(viewport={"width": 390, "height": 800})
            phone.route("**/*", offline)
            phone.goto(f"{base}/05_sharing_strategies.html")
            phone.locator("button.primary-toggle:visible").first.click()
            phone.wait_for_selector(
                "#pst-primary-sidebar-modal[open] a[href='11_choosing_a_strategy.html']",
                timeout=10_000,
            )
        finally:
            browser.close()
    assert not broken, f"images that did not load: {json.dumps(broken)}"
    assert len(lessons) == len(stems)
    for name, pos in lessons.items():
        assert pos["h1"] < pos["goal"] < pos["code"], f"{name}: the lesson is not first: {pos}"
    assert not remote, f"requests that left localhost (the site must work offline): {remote}"
    assert SCREENSHOT.stat().st_size > 10_000
