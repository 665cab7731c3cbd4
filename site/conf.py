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

Language switch (the hook for issue 21's Chinese edition): ``EDITIONS`` below lists the
editions of the site, each with its language code, its label and the root of that
edition's site relative to this one. ``_templates/language-switch.html`` sits in every
page's header and links the SAME page (same docname) in every other edition; with one
edition it renders nothing. To add the Chinese edition, build its notebooks into a
second site (e.g. ``build/site/zh/``) and list both here, e.g.
``{"lang": "zh_CN", "label": "中文", "root": "zh/"}`` (and ``"root": "../"`` for English
as seen from the Chinese site: set ``COURSE_EDITION`` to pick which is current).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from course_lib import launch  # noqa: E402

project = "Sharing weights across layers"
author = "the course authors"
copyright = "the course authors (MIT licence)"
html_title = "Sharing weights across layers"

EDITIONS = [{"lang": "en", "label": "English", "root": ""}]
CURRENT = os.environ.get("COURSE_EDITION", "en")
if CURRENT not in {e["lang"] for e in EDITIONS}:
    raise ValueError(
        f"COURSE_EDITION={CURRENT!r} is not allowed: choose one of "
        f"{', '.join(e['lang'] for e in EDITIONS)} (site/conf.py EDITIONS)"
    )
language = CURRENT

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
    "path_to_docs": "notebooks",  # launch buttons open notebooks/NN_name.ipynb
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
html_context = {"course_editions": EDITIONS, "course_edition": CURRENT}


def _launch_links_from_course_lib(app, pagename, templatename, context, doctree):
    """The theme's Binder and Colab buttons, pointed at exactly the links of
    course_lib.launch (the ones the notebooks' badges and the README use)."""

    def walk(buttons):
        for button in buttons:
            walk(button.get("buttons", []))
            if button.get("text") == "Binder":
                button["url"] = launch.binder_url(pagename + ".ipynb")
            elif button.get("text") == "Colab":
                button["url"] = launch.colab_url(pagename + ".ipynb")

    walk(context.get("header_buttons", []))


def setup(app):
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", _launch_links_from_course_lib, priority=600)
