"""The learner's language: one switch and one message catalogue per language (issue 21).

The Chinese edition (``notebooks/zh/``, built by ``scripts/zh.py``) runs the English notebooks'
code with ``COURSE_LANG=zh``, so every sentence course_lib prints, every hint of a self-check
(notebooks 01-13) and every quiz (04-13) reads in Chinese there. English is the default and
the English catalogue is the identity: a message is its own English text, byte for byte, so
the English notebooks' stored outputs never change. The messages live in one catalogue per
language, ``course_lib/locale/<lang>/LC_MESSAGES/course_lib.po``, compiled to the ``.mo``
beside it, and are read with the standard library's ``gettext``; no module branches on the
language.

Choosing the language
    ``COURSE_LANG=zh`` in the environment (``runtime.LANG_ENV``), or ``set_language("zh")``
    in a notebook's first cell (it sets the same variable, so a child process follows). Unset
    or empty means English. Anything else but ``LANGUAGES`` is a ``ValueError`` naming
    ``COURSE_LANG`` and the allowed values. The language is read at each message, so a switch
    takes effect from the next message on.

How a module marks a message (the rule for every new user of the catalogue)
    1. ``from course_lib.i18n import _`` and wrap the English text where it is used, a string
       literal written out in the call: ``raise AssertionError(_("return an int"))``.
    2. A message with values is a template with NAMED placeholders, filled after the lookup:
       ``_("expected {want} unique parameters, got {n}").format(want=want, n=n)``. Never an
       f-string inside ``_()`` (the catalogue cannot hold it; ``scripts/i18n.py`` refuses it)
       and never ``{}`` or ``{0}`` (a translation may reorder the values). Format specs stay
       inside the braces: ``{mb:.2f}``, ``{block:,}``. A literal brace is ``{{`` only in a
       template that is ``.format``-ed.
    3. Text built at import time (a table of questions, labels in a module constant) is
       marked with ``N_("...")``, which returns it unchanged, and translated where it is
       shown: ``_(question.prompt)``. ``_(text)`` of a variable is a lookup, never extracted.
    3a. Text drawn on a figure is marked ``F_("...")`` (``course_lib.views.figures.F_``): the
       same lookup, except that under Chinese with no CJK font it stays English, readable.
    3b. A notebook's code cell marks a sentence it builds from data with ``tr("...")``, the
       same lookup as ``_``, which IPython and loops (``for _, x in ...``) would rebind there.
       Words a comparison returns (``"better"``, ``"within noise"``) stay English data,
       compared in code; ``tr(word)`` or ``tr(table)`` translates them where they are shown.
    4. Keep each message one whole sentence or clause; do not glue translated pieces
       ("Not " + letter) whose order differs between languages. Code identifiers, numbers
       and shapes stay as they are in the Chinese text.
    5. Regenerate and translate: ``python scripts/i18n.py extract`` collects every ``_()``
       and ``N_()`` of course_lib/ and of the English notebooks' code cells into the PO file
       (existing translations kept, new messages with an empty ``msgstr``, vanished ones kept
       as ``#~`` obsolete entries); write each ``msgstr`` using ``docs/glossary.md``'s 中文
       column; then ``python scripts/i18n.py compile`` writes the ``.mo``. Commit both.
       ``tests/course/test_i18n.py`` fails while a message is untranslated (naming it and
       where it is used), a translation drops or invents a placeholder, or the ``.mo`` is not
       what the ``.po`` compiles to.
"""

from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path

from course_lib.runtime import LANG_ENV

DOMAIN = "course_lib"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "zh")  # en is the source text itself; zh has a catalogue in LOCALE_DIR


def _checked(value: str) -> str:
    lang = value.strip().lower()
    if lang not in LANGUAGES:
        raise ValueError(
            f"{LANG_ENV}={value!r} is not allowed: choose one of {', '.join(LANGUAGES)}"
        )
    return lang


def language() -> str:
    """The learner's language: ``COURSE_LANG`` if set and not empty, else English."""
    value = os.environ.get(LANG_ENV, "")
    return _checked(value) if value.strip() else DEFAULT_LANGUAGE


def set_language(lang: str) -> str:
    """Choose the language from here on, e.g. ``set_language("zh")`` in a first cell."""
    if not isinstance(lang, str):
        raise ValueError(
            f"{LANG_ENV}={lang!r} is not allowed: choose one of {', '.join(LANGUAGES)}"
        )
    chosen = _checked(lang)
    os.environ[LANG_ENV] = chosen
    return chosen


def catalogue_path(lang: str) -> Path:
    """Where the compiled catalogue of ``lang`` lives (``.mo``; the ``.po`` sits beside it)."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang``: the identity for English, the compiled ``.mo`` otherwise."""
    lang = _checked(lang)
    if lang == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    path = catalogue_path(lang)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the {lang} message catalogue is missing; run `python scripts/i18n.py compile`"
        )
    with path.open("rb") as f:
        return gettext.GNUTranslations(f)


def _(message: str) -> str:
    """``message`` in the learner's language (itself in English or when not translated)."""
    if not message:  # gettext("") is the catalogue's header, never a message
        return message
    return translations(language()).gettext(message)


def tr(value, column: str = "verdict"):
    """What a learner reads, under the name the notebooks use (``_`` is rebound there):
    ``tr("{n} of {total} seeds").format(...)``; a comparison's word, ``tr(verdict(d))``; or a
    pandas table, a copy whose ``column`` words are translated (the table itself in English or
    without that column, so English output stays byte-identical). Notebooks 06-13."""
    if isinstance(value, str):
        return _(value)
    if language() == DEFAULT_LANGUAGE:
        return value
    words = value if not hasattr(value, "columns") else value.get(column)
    if words is None:
        return value
    translated = words.map(lambda v: _(v) if isinstance(v, str) else v)
    if not hasattr(value, "columns"):
        return translated
    return value.assign(**{column: translated})


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it now; ``_()`` it when shown."""
    return message
