"""docs/glossary.md: every term is defined before a notebook uses it (issue 17).

The glossary's header states the rules this test applies; the table gives each term's forms,
its defining notebook and cell, and a one-line definition.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GLOSSARY = ROOT / "docs" / "glossary.md"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REQUIRED = [  # the terms issue 17 names
    "attention", "query, key, value", "softmax", "mask", "multi-head attention", "LayerNorm",
    "residual connection", "feed-forward network", "pre-LN, post-LN", "embedding",
    "position embedding", "sharing plan", "ALBERT", "CYCLE", "SEQUENCE, CYCLE-REV",
    "Universal Transformer", "ACT", "LoRA", "factorization", "tying", "FLOPs", "MFU",
    "warm-up", "cosine decay", "momentum", "AdamW", "gradient clipping", "bf16, autocast",
    "95% interval", "paired difference", "rank correlation", "noise floor", "all-reduce", "DDP",
]  # fmt: skip


def read_glossary() -> list[dict[str, str]]:
    """The table's rows as dicts keyed by the header (so a new column breaks nothing)."""
    lines = [line for line in GLOSSARY.read_text().splitlines() if line.startswith("|")]
    header = [h.strip() for h in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
            for line in lines[2:]]  # fmt: skip


TERMS = read_glossary()


def matcher(forms: str) -> re.Pattern:
    """Whole-word forms; one with a capital letter matches exactly, the others in any case."""
    parts = []
    for form in (f.strip() for f in forms.split(",")):
        word = r"(?<![\w-])" + re.escape(form) + r"(?![\w-])"
        parts.append(word if any(ch.isupper() for ch in form) else f"(?i:{word})")
    return re.compile("|".join(parts))


def prose(markdown: str, headings: bool = False) -> str:
    """The words a learner reads as text: no code, formulas, links, 'Next' lines or headings
    (a heading announces its section; the defining cell may use its own, ``headings=True``)."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$]*\$", " ", text)
    text = re.sub(r"!?\[[^\]]*\]\([^)]*\)", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    if not headings:
        text = re.sub(r"^#+ .*$", " ", text, flags=re.M)
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n\n".join(p for p in paragraphs if not p.lstrip().startswith("Next"))


def markdown_cells() -> list[dict]:
    """Markdown cells of notebooks 01-11 in reading order: notebook, id, section, text."""
    cells = []
    for path in NOTEBOOKS[1:]:  # 00 maps the course
        section = 0
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            source = "".join(cell["source"])
            heading = re.search(r"^## (\d+)\.", source, re.M)
            section = int(heading.group(1)) if heading else section
            if re.match(r"\s*# \d\d ·", source):  # the title and goal
                continue
            cells.append(dict(nb=path.name[:2], id=cell["id"], section=section,
                              raw=source, text=prose(source),
                              own=prose(source, headings=True)))  # fmt: skip
    return cells


CELLS = markdown_cells()


def test_the_glossary_holds_every_term_issue_17_names():
    terms = [row["Term"] for row in TERMS]
    assert not [t for t in REQUIRED if t not in terms], [t for t in REQUIRED if t not in terms]
    assert len(terms) == len(set(terms)), "a term is listed twice"
    for row in TERMS:
        assert row["Forms"] and row["Definition"], row


def points_to(cell: dict, where: dict) -> bool:
    """The cell names where the term is defined: its notebook, or in the same notebook its section."""
    if cell["nb"] != where["nb"]:
        return re.search(rf"\bnotebooks? (\d\d, )*{where['nb']}\b|{where['nb']}_\w+\.ipynb",
                         cell["raw"]) is not None  # fmt: skip
    return re.search(rf"\bsections? (\d+(\.\d+)?, )*{where['section']}\b", cell["raw"]) is not None


@pytest.mark.parametrize("row", TERMS, ids=[row["Term"] for row in TERMS])
def test_no_notebook_uses_a_term_before_the_cell_that_defines_it(row):
    pattern = matcher(row["Forms"])
    uses = [c for c in CELLS if pattern.search(c["text"])]
    if row["Cell"] == "—":
        assert not uses, (
            f"{row['Term']!r} has no defining cell in docs/glossary.md, yet it is used in "
            f"{[(c['nb'], c['id']) for c in uses[:5]]}: define it there and name the cell"
        )
        return
    found = [i for i, c in enumerate(CELLS) if (c["nb"], c["id"]) == (row["Notebook"], row["Cell"])]
    assert found, f"{row['Term']!r}: notebook {row['Notebook']} has no Markdown cell {row['Cell']}"
    where = CELLS[found[0]]
    assert pattern.search(where["own"]), (
        f"{row['Term']!r}: cell {row['Cell']} of notebook {row['Notebook']} does not use the term"
    )
    early = [
        (c["nb"], c["id"], pattern.search(c["text"]).group(0))
        for c in CELLS[: found[0]]
        if pattern.search(c["text"]) and not points_to(c, where)
    ]
    assert not early, (
        f"{row['Term']!r} is defined in notebook {row['Notebook']}, cell {row['Cell']}, but used "
        f"before it (notebook, cell, word): {early}; define it at its first use (and move the "
        "glossary entry there) or point to where it is defined"
    )
