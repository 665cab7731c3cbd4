"""Sphinx configuration of the course site (issue 23): MyST-NB + sphinx-book-theme.

Build it with ``make site`` (``python scripts/build_site.py``), never with a bare
``sphinx-build``: the script first lays out a temporary source folder (the notebooks with
their set-up cells tagged hidden and their widget outputs replaced by static fallbacks,
the teaching guide, the answer key and the glossary) and copies the offline MathJax in
afterwards. This folder (``site/``) is the configuration directory (``sphinx-build -c``).

Offline by design: nothing is executed (``nb_execution_mode = "off"``: the pages show
the outputs stored in the notebooks), nothing is fetched at build time (no intersphinx,
no remote template) and nothing at view time except the outgoing links (launch buttons,
the repository): MathJax comes from the ``jupyter-server-mathjax`` package, the theme's
fonts and icons ship with it, search is Sphinx's static index, ipywidgets' JavaScript is
not loaded.

Launch buttons (Binder, Colab) and the repository link come from ``course_lib/launch.py``,
the one place that holds the repository address.

Language switch (issue 21's Chinese edition): ``EDITIONS`` below lists the editions of
the site, each with its Sphinx language code, its label, its ``hreflang`` and its folder in
the built site (``path``): English at the top, Chinese in ``zh/``. ``scripts/build_site.py``
runs Sphinx once per edition with ``COURSE_EDITION`` naming the current one, and
``COURSE_SITE_PAGES`` naming a JSON file of each built edition's page names. Each
edition's ``root`` is computed here relative to the current one (``zh/`` from English,
``../`` from Chinese). ``_templates/language-switch.html`` sits in every page's header and
links the SAME page (same docname) in every other edition that has it; with one edition
(no Chinese notebooks built) it renders nothing. The Chinese site's launch buttons and
repository paths point at ``notebooks/zh/``.
"""

from __future__ import annotations

import json
import os
import posixpath
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import zh  # noqa: E402  (scripts/zh.py: the Chinese notebooks' launch links)

from course_lib import launch  # noqa: E402

project = "Sharing weights across layers"
author = "the course authors"
copyright = "the course authors (MIT licence)"
html_title = "Sharing weights across layers"

EDITIONS = [
    {
        "lang": "en",
        "label": "English",
        "hreflang": "en",
        "path": "",
        "notebooks": "notebooks",
        "title": "Sharing weights across layers",
    },
    {
        "lang": "zh_CN",
        "label": "中文",
        "hreflang": "zh-CN",
        "path": "zh/",
        "notebooks": "notebooks/zh",
        "title": "跨层共享权重",
    },
]
CURRENT = os.environ.get("COURSE_EDITION", "en")
if CURRENT not in {e["lang"] for e in EDITIONS}:
    raise ValueError(
        f"COURSE_EDITION={CURRENT!r} is not allowed: choose one of "
        f"{', '.join(e['lang'] for e in EDITIONS)} (site/conf.py EDITIONS)"
    )
language = CURRENT
_current = next(e for e in EDITIONS if e["lang"] == CURRENT)
html_title = _current["title"]


def _built_editions() -> list[dict]:
    """EDITIONS that were built, each with its ``pages`` and its ``root`` relative to the
    current edition; without COURSE_SITE_PAGES (a bare sphinx-build), the current one only."""
    listing = os.environ.get("COURSE_SITE_PAGES")
    pages = json.loads(Path(listing).read_text()) if listing else {CURRENT: None}
    built = []
    for e in EDITIONS:
        if e["lang"] in pages:
            root = posixpath.relpath(e["path"] or ".", _current["path"] or ".")
            root = "" if root == "." else root + "/"
            built.append({**e, "root": root, "pages": pages[e["lang"]]})
    return built


extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_js_files = ["course.js"]

# MyST and MyST-NB: stored outputs only, no widget JavaScript (it would come from a CDN).
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"
nb_ipywidgets_js = {}
nb_merge_streams = True
nb_mime_priority_overrides = [
    ("html", "application/vnd.jupyter.widget-view+json", None),
    ("html", "application/vnd.jupyter.widget-state+json", None),
]

# MathJax 2 from jupyter-server-mathjax, copied to _static/mathjax by build_site.py.
myst_update_mathjax = False
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {"processEscapes": True},
    "HTML-CSS": {"availableFonts": [], "webFont": "STIX-Web", "imageFont": None},
    "menuSettings": {"zoom": "None"},
    "showMathMenu": False,
}

html_theme = "sphinx_book_theme"
html_sourcelink_suffix = ""  # the download button gives the .ipynb itself
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": launch.repo_url(),
    "repository_branch": launch.BRANCH,
    "path_to_docs": _current["notebooks"],  # launch buttons open notebooks[/zh]/NN_name.ipynb
    "use_repository_button": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "show_navbar_depth": 1,
    "launch_buttons": {
        "binderhub_url": launch.BINDER_HOST,
        "colab_url": launch.COLAB_HOST,
        "notebook_interface": "jupyterlab",
    },
    "article_header_end": ["language-switch.html", "article-header-buttons.html"],
}
html_context = {"course_editions": _built_editions(), "course_edition": CURRENT}


def _edition_url(url: str) -> str:
    """A launch link of course_lib.launch, for the current edition's notebook (the Chinese
    notebooks' links as scripts/zh.py writes their badges)."""
    return url if CURRENT == "en" else zh.zh_markdown(url, badges=True)


def _launch_links_from_course_lib(app, pagename, templatename, context, doctree):
    """The theme's Binder and Colab buttons, pointed at exactly the links of
    course_lib.launch (the ones the notebooks' badges and the README use)."""

    def walk(buttons):
        for button in buttons:
            walk(button.get("buttons", []))
            if button.get("text") == "Binder":
                button["url"] = _edition_url(launch.binder_url(pagename + ".ipynb"))
            elif button.get("text") == "Colab":
                button["url"] = _edition_url(launch.colab_url(pagename + ".ipynb"))

    walk(context.get("header_buttons", []))


def setup(app):
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", _launch_links_from_course_lib, priority=600)
