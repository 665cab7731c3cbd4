"""The Chinese edition uses the glossary's terms (issue 21): docs/glossary.md's 中文 column.

For every translated Markdown cell of ``notebooks/zh/NN.yaml``: where the English text (its
prose, as tests/catalogues/test_glossary.py reads it: no code, formulas or links) uses a term, the
Chinese text uses one of the term's 中文 forms (the preferred first, then the ones a
translation may also use), and no Chinese text uses a form of the 避免 column. A failure names
the notebook, the cell, the term and the forms allowed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
for folder in ("catalogues",):  # the test modules whose helpers are imported
    sys.path.insert(0, str(ROOT / "tests" / folder))

from test_glossary import matcher, prose, read_glossary  # noqa: E402

TRANSLATIONS = sorted((ROOT / "notebooks" / "zh").glob("[0-9][0-9].yaml"))
TERMS = [row for row in read_glossary() if row.get("中文")]


def _forms(cell: str) -> list[str]:
    return [f.strip() for f in cell.split(",") if f.strip()]


def _cells(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["cells"]


def _zh_prose(markdown: str) -> str:
    """The Chinese a learner reads: code spans, formulas and links out, as in ``prose``."""
    return prose(markdown, headings=True)


def test_every_glossary_term_has_a_chinese_form():
    rows = read_glossary()
    assert len(TERMS) == len(rows), [r["Term"] for r in rows if not r.get("中文")]


def test_the_seed_blogs_own_term_is_kept():
    """Where the English says "cross-layer (parameter) sharing", the Chinese keeps the seed
    blog's term 跨层参数共享 (or its short form 跨层共享), never another coinage. Paper titles
    (in *italics*) stay in English and are left out."""
    said = re.compile(r"(?i)cross-layer (parameter )?sharing")
    problems, uses = [], 0
    for path in TRANSLATIONS:
        for cell in _cells(path):
            if said.search(re.sub(r"\*[^*]+\*", " ", cell["en"])):
                uses += 1
                if "跨层参数共享" not in cell["zh"] and "跨层共享" not in cell["zh"]:
                    problems.append(f"{path.name} cell {cell['id']}")
    assert uses >= 1 and not problems, problems


@pytest.mark.parametrize("path", TRANSLATIONS, ids=lambda p: p.stem)
def test_translations_use_the_glossarys_chinese_terms(path):
    problems = []
    for cell in _cells(path):
        english, chinese = prose(cell["en"], headings=True), _zh_prose(cell["zh"])
        for row in TERMS:
            if not matcher(row["Forms"]).search(english):
                continue
            allowed = _forms(row["中文"])
            if not any(form in chinese or form in cell["zh"] for form in allowed):
                problems.append(f"{path.name} cell {cell['id']}: {row['Term']!r} -> {allowed}")
    assert not problems, "translation without the glossary's term:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", TRANSLATIONS, ids=lambda p: p.stem)
def test_translations_use_no_avoided_form(path):
    problems = []
    for cell in _cells(path):
        for row in TERMS:
            for form in _forms(row.get("避免", "")):
                if re.search(re.escape(form), cell["zh"]):
                    problems.append(f"{path.name} cell {cell['id']}: {form!r}, use {row['中文']}")
    assert not problems, "translation with an avoided form:\n" + "\n".join(problems)


def test_the_check_catches_a_missing_term(tmp_path):
    """A cell whose English says 'residual connection' but whose Chinese does not is found."""
    row = next(r for r in TERMS if r["Term"] == "residual connection")
    english = "The residual connection adds the input back."
    assert matcher(row["Forms"]).search(prose(english, headings=True))
    assert not any(form in "把输入加回去。" for form in _forms(row["中文"]))
    assert any(form in "残差连接把输入加回去。" for form in _forms(row["中文"]))
