"""The Chinese edition (中文版, issue 21): translations beside the English notebooks, kept in sync.

The English notebooks ``notebooks/NN_*.ipynb`` are the source. ``notebooks/zh/NN.yaml`` holds,
for each English Markdown cell, its id, the sha256 (first 16 hex) of the English source it was
translated from (``en_sha256``), that English text (``en``) and the translation (``zh``). From
them ``build`` writes ``notebooks/zh/NN_*.ipynb``: every code cell exactly as in the English
notebook, the Markdown cells translated, then executed in FAST mode with ``COURSE_LANG=zh``.

    python scripts/zh.py status [NN ...]    # missing and stale translations; exit 1 if any
    python scripts/zh.py sync [NN ...]      # after English edits: add new cells, keep every zh
        [--carry-code]                      # ... and carry edits of code spans into zh
    python scripts/zh.py done NN CELL_ID .. # the translation is revised: take the current English
    python scripts/zh.py build [NN ...]     # write and execute the Chinese notebooks
        [--no-execute] [--force]

A cell is *missing* when the English has a Markdown cell that the YAML lacks or whose ``zh`` is
empty, *stale* when the English source's hash no longer equals ``en_sha256`` (``status`` shows a
diff of the stored ``en`` against the current English), *removed* when the YAML has a cell the
English no longer has. ``sync`` never loses a translation: a changed cell keeps its ``zh`` and
its old ``en``/``en_sha256`` (so it stays stale until ``done``), a removed cell moves to the
file's ``removed:`` list (its text kept for reuse; delete it when done), a new cell gets an
empty ``zh`` (or the translation of a removed cell with the very same English text).

The check functions (``translation_findings``, ``notebook_findings``) are shared by ``status``
and tests/course/test_zh_sync.py.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/, also when imported
import study_time_rule  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CELL_FIELDS = ("id", "en_sha256", "en", "zh")  # all required, in this order
TOP_FIELDS = ("notebook", "cells")  # required; "removed" optional
META_KEY = "course_zh"  # the Chinese notebook's record of what it was built from
HASH_LEN = 16
NN = re.compile(r"^\d\d$")


class ZhError(Exception):
    """A translation file or notebook that cannot be used; the message names file, cell, field."""


def source_hash(text: str) -> str:
    """sha256 of an English cell's source, first 16 hex digits (the YAML's ``en_sha256``)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_LEN]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def markdown_hash(nb) -> str:
    """sha256 of an English notebook's Markdown cells (ids and sources, in order)."""
    cells = [[c.get("id"), c.source] for c in nb.cells if c.cell_type == "markdown"]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8")).hexdigest()


def rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# ----- files -------------------------------------------------------------------------------


def english_path(nn: str, root: Path = ROOT) -> Path:
    if not NN.match(nn):
        raise ZhError(f"notebook {nn!r}: give its two-digit number, e.g. 04")
    matches = sorted((root / "notebooks").glob(f"{nn}_*.ipynb"))
    if len(matches) != 1:
        names = [rel(m, root) for m in matches]
        raise ZhError(f"notebook {nn}: expected one notebooks/{nn}_*.ipynb, found {names}")
    return matches[0]


def yaml_path(nn: str, root: Path = ROOT) -> Path:
    return root / "notebooks" / "zh" / f"{nn}.yaml"


def chinese_path(nn: str, root: Path = ROOT) -> Path:
    return root / "notebooks" / "zh" / english_path(nn, root).name


def all_numbers(root: Path = ROOT) -> list[str]:
    """The two-digit numbers of the English notebooks, in order."""
    return sorted(p.name[:2] for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def english_markdown(nb) -> dict[str, str]:
    """{cell id: source} of an English notebook's Markdown cells, in order."""
    cells = {}
    for i, c in enumerate(nb.cells):
        if c.cell_type == "markdown":
            if not c.get("id"):
                raise ZhError(f"English Markdown cell {i} has no id: run nbformat's normalize")
            cells[c["id"]] = c.source
    return cells


def _check_cell(cell, where: str) -> None:
    if not isinstance(cell, dict):
        raise ZhError(f"{where}: a cell must be a mapping with fields {', '.join(CELL_FIELDS)}")
    for name in CELL_FIELDS:
        if name not in cell:
            raise ZhError(f"{where}: field '{name}' is missing (fields: {', '.join(CELL_FIELDS)})")
    extra = sorted(set(cell) - set(CELL_FIELDS))
    if extra:
        raise ZhError(f"{where}: unknown field '{extra[0]}' (allowed: {', '.join(CELL_FIELDS)})")
    if cell["zh"] is None:  # `zh:` with nothing after it: not translated yet
        cell["zh"] = ""
    for name in CELL_FIELDS:
        if not isinstance(cell[name], str):
            kind = type(cell[name]).__name__
            raise ZhError(f"{where}: field '{name}' must be text, got {kind} {cell[name]!r}")
    if not re.fullmatch(rf"[0-9a-f]{{{HASH_LEN}}}", cell["en_sha256"]):
        raise ZhError(f"{where}: field 'en_sha256' must be {HASH_LEN} lowercase hex digits")
    if source_hash(cell["en"]) != cell["en_sha256"]:
        raise ZhError(
            f"{where}: field 'en_sha256' is not the hash of field 'en' (both must be the English "
            "the zh was translated from: do not edit them by hand, use `scripts/zh.py done`)"
        )


def load_translation(path: Path, root: Path = ROOT) -> dict:
    """The translation file ``path``, checked; a :class:`ZhError` names file, cell and field."""
    name = rel(path, root)
    if not path.is_file():
        raise ZhError(f"{name}: missing (make it with `scripts/zh.py sync {path.stem}`)")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" line {where.line + 1}" if where else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ZhError(f"{name}:{line}: not valid YAML: {problem}") from None
    if not isinstance(doc, dict):
        raise ZhError(f"{name}: must be a mapping with fields {', '.join(TOP_FIELDS)}")
    for field in TOP_FIELDS:
        if field not in doc:
            raise ZhError(f"{name}: field '{field}' is missing")
    extra = sorted(set(doc) - {*TOP_FIELDS, "removed"})
    if extra:
        raise ZhError(f"{name}: unknown field '{extra[0]}' (allowed: notebook, cells, removed)")
    expected = english_path(path.stem, root).name
    if doc["notebook"] != expected:
        raise ZhError(f"{name}: field 'notebook' is {doc['notebook']!r}, expected {expected!r}")
    doc.setdefault("removed", [])
    for key in ("cells", "removed"):
        if doc[key] is None:
            doc[key] = []
        if not isinstance(doc[key], list):
            raise ZhError(f"{name}: field '{key}' must be a list of cells")
        seen = set()
        for i, cell in enumerate(doc[key]):
            label = f"cell {cell.get('id')}" if isinstance(cell, dict) and "id" in cell else ""
            _check_cell(cell, f"{name}: {key}[{i}] {label}".rstrip())
            if cell["id"] in seen:
                raise ZhError(f"{name}: {key}[{i}] cell {cell['id']}: field 'id' appears twice")
            seen.add(cell["id"])
    return doc


class _Literal(str):
    """A translation: always written as a YAML literal block (``zh: |-``)."""


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper, text):
    style = "|" if "\n" in text or (isinstance(text, _Literal) and text) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(text), style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Literal, _represent_str)


def dump_translation(doc: dict, header: str) -> str:
    """The YAML text of ``doc`` (the translators' layout: ``en`` and ``zh`` as ``|-`` blocks)."""
    out = {"notebook": doc["notebook"], "cells": []}
    for key in ("cells", "removed"):
        if key == "removed" and not doc.get("removed"):
            continue
        out[key] = [
            {"id": c["id"], "en_sha256": c["en_sha256"], "en": c["en"], "zh": _Literal(c["zh"])}
            for c in doc[key]
        ]
    body = yaml.dump(
        out, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10**6, indent=2
    )
    return header + body


def header_of(path: Path) -> str:
    """The comment lines at the top of a translation file (kept when it is rewritten)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.is_file() else []
    head = []
    for line in lines:
        if not line.startswith("#"):
            break
        head.append(line)
    return "".join(head)


def default_header(nn: str, name: str) -> str:
    return (
        f"# 中文版 of notebooks/{name} (issue 21). For each Markdown cell: its id, a hash of the"
        " English\n# source it was translated from (en_sha256, sha256 first 16 hex), that English"
        " text, and the\n# translation. `make zh-status` lists stale cells; `make zh` writes"
        f" notebooks/zh/{name}.\n"
    )


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` atomically (temp file + os.replace), only if it differs."""
    if path.is_file() and path.read_bytes() == text.encode("utf-8"):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def save_translation(path: Path, old: dict | None, new: dict, header: str) -> bool:
    """Write ``new`` unless it holds the same content as ``old`` (the file as loaded)."""
    if old is not None and _content(old) == _content(new):
        return False
    return write_if_changed(path, dump_translation(new, header))


def _content(doc: dict):
    return (doc["notebook"], doc["cells"], doc.get("removed") or [])


# ----- checks (status and the test share these) --------------------------------------------


@dataclass
class Finding:
    """One thing that keeps a Chinese notebook from being current."""

    notebook: str  # the English notebook's file name
    cell: str  # cell id, or "" for the whole notebook
    kind: str  # missing | stale | removed | no-notebook | outdated | code | markdown
    message: str
    diff: str = ""  # stale: stored en -> current English

    def line(self) -> str:
        cell = f" cell {self.cell}" if self.cell else ""
        return f"{self.notebook}{cell}: {self.message}"

    def __str__(self) -> str:
        return self.line() + ("\n" + self.diff if self.diff else "")


def _excerpt(text: str, width: int = 70) -> str:
    first = " ".join(text.split())
    return repr(first if len(first) <= width else first[: width - 3] + "...")


def _diff(old: str, new: str, cell: str, labels=("en (translated from)", "English now")) -> str:
    lines = difflib.unified_diff(
        old.splitlines(),
        new.splitlines(),
        fromfile=f"{cell} {labels[0]}",
        tofile=f"{cell} {labels[1]}",
        lineterm="",
    )
    return "\n".join("    " + line for line in lines)


def translation_findings(nn: str, root: Path = ROOT) -> list[Finding]:
    """Missing, stale and removed cells of ``notebooks/zh/NN.yaml`` against the English."""
    en_path = english_path(nn, root)
    name = en_path.name
    english = english_markdown(nbformat.read(en_path, as_version=4))
    path = yaml_path(nn, root)
    if not path.is_file():
        return [Finding(name, "", "missing", f"{rel(path, root)} is missing: run sync")]
    doc = load_translation(path, root)
    stored = {c["id"]: c for c in doc["cells"]}
    found = []
    for cell_id, source in english.items():
        cell = stored.get(cell_id)
        if cell is None:
            msg = f"new English cell, not in {path.name} (run sync): {_excerpt(source)}"
            found.append(Finding(name, cell_id, "missing", msg))
            continue
        if source_hash(source) != cell["en_sha256"]:
            msg = (
                f"stale: the English changed since it was translated (en_sha256 "
                f"{cell['en_sha256']}, English now {source_hash(source)}): {_excerpt(source)}"
            )
            found.append(Finding(name, cell_id, "stale", msg, _diff(cell["en"], source, cell_id)))
        if not cell["zh"].strip():
            found.append(Finding(name, cell_id, "missing", f"zh is empty: {_excerpt(source)}"))
    for cell_id, cell in stored.items():
        if cell_id not in english:
            msg = f"in {path.name} but no longer in the English (run sync): {_excerpt(cell['en'])}"
            found.append(Finding(name, cell_id, "removed", msg))
    return found


def untranslated(nn: str, root: Path = ROOT) -> tuple[int, int]:
    """(cells with an empty zh, cells) of ``notebooks/zh/NN.yaml``."""
    doc = load_translation(yaml_path(nn, root), root)
    return sum(not c["zh"].strip() for c in doc["cells"]), len(doc["cells"])


# Relative links that leave notebooks/ need one more ../ from notebooks/zh/; links to another
# notebook (NN_name.ipynb, optionally #anchor) stay: the Chinese notebooks have the same names.
_NOTEBOOK_LINK = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb(#.*)?$")
_LINK_PATTERNS = (
    re.compile(r"(\]\()(<?)([^)\s>]+)"),  # [text](target) and ![alt](target)
    re.compile(r"(^\[[^\]]+\]:[ \t]*)(<?)(\S+)", re.MULTILINE),  # [ref]: target
    re.compile(r"(\b(?:src|href)=[\"'])()([^\"']+)"),  # HTML
)


def _zh_target(target: str) -> str:
    if re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*:|#|/)", target) or _NOTEBOOK_LINK.match(target):
        return target
    return "../" + target


def zh_markdown(text: str, badges: bool = False) -> str:
    """A translated cell as the Chinese notebook holds it: links from notebooks/zh/."""
    for pattern in _LINK_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + m.group(2) + _zh_target(m.group(3)), text)
    if badges:
        text = text.replace("notebooks%2F", "notebooks%2Fzh%2F")
        text = re.sub(r"/notebooks/(?=\d\d_)", "/notebooks/zh/", text)
    return text


def build_notebook(nn: str, root: Path = ROOT):
    """The Chinese notebook (not yet executed) from the English one and the translation."""
    en_path = english_path(nn, root)
    path = yaml_path(nn, root)
    doc = load_translation(path, root)
    zh = {c["id"]: c["zh"] for c in doc["cells"]}
    english = nbformat.read(en_path, as_version=4)
    nb = copy.deepcopy(english)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            badges = "launch-badges" in cell.metadata.get("tags", [])
            cell.source = zh_markdown(zh[cell["id"]], badges=badges)
    if any(study_time_rule.STATED.search(c.source) for c in english.cells):
        _set_zh_study_time(nb, english, zh, en_path.name, rel(path, root))
    nb.metadata[META_KEY] = {
        "translation": rel(path, root),
        "translation_sha256": file_sha256(path),
        "english": rel(en_path, root),
        "english_markdown_sha256": markdown_hash(english),
    }
    return nb


def _set_zh_study_time(nb, english, zh: dict[str, str], en_name: str, where: str) -> None:
    """The Chinese header's study time at the Chinese reading rate (scripts/study_time_rule.py,
    ``zh_stated_minutes``), written into its row "| 学习时间 | N 分钟 |"."""
    minutes = study_time_rule.zh_stated_minutes(english, zh, en_name)
    stated = study_time_rule.ZH_STATED
    rows = [c for c in nb.cells if c.cell_type == "markdown" and stated.search(c.source)]
    if len(rows) != 1:
        raise ZhError(
            f"{where}: the translation needs exactly one header row '| 学习时间 | N 分钟 |' "
            f"(found {len(rows)}); translate the English header's study time row"
        )
    rows[0].source = study_time_rule.zh_header(rows[0].source, minutes, where)


def _code_view(cell) -> dict:
    """What must be identical between an English and a Chinese code cell: type, id, source and
    metadata (``metadata.execution`` holds the run's timestamps, so it is left out)."""
    meta = {k: v for k, v in cell.metadata.items() if k != "execution"}
    return {"type": cell.cell_type, "id": cell.get("id"), "source": cell.source, "meta": meta}


def notebook_findings(nn: str, root: Path = ROOT) -> list[Finding]:
    """What is wrong with the built ``notebooks/zh/NN_*.ipynb``: missing, older than its
    translation file or the English, code cells not the English ones, Markdown not the
    translation's."""
    en_path = english_path(nn, root)
    name = en_path.name
    path = chinese_path(nn, root)
    if not path.is_file():
        msg = f"the Chinese notebook {rel(path, root)} is missing: run `make zh`"
        return [Finding(name, "", "no-notebook", msg)]
    english = nbformat.read(en_path, as_version=4)
    nb = nbformat.read(path, as_version=4)
    found = []
    record = nb.metadata.get(META_KEY) or {}
    tr_path = yaml_path(nn, root)
    if record.get("translation_sha256") != file_sha256(tr_path):
        msg = (
            f"{rel(path, root)} is older than {rel(tr_path, root)} (built from sha256 "
            f"{str(record.get('translation_sha256'))[:16]}, file now {file_sha256(tr_path)[:16]})"
            ": run `make zh`"
        )
        found.append(Finding(name, "", "outdated", msg))
    if record.get("english_markdown_sha256") != markdown_hash(english):
        msg = f"{rel(path, root)} was built from other English Markdown: run `make zh`"
        found.append(Finding(name, "", "outdated", msg))
    en_code = [(i, c) for i, c in enumerate(english.cells) if c.cell_type != "markdown"]
    zh_code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type != "markdown"]
    en_types = [c.cell_type for c in english.cells]
    if len(en_code) != len(zh_code) or en_types != [c.cell_type for c in nb.cells]:
        msg = (
            f"cell layout differs from the English: {len(zh_code)} code cells of {len(nb.cells)}"
            f" (English {len(en_code)} of {len(english.cells)})"
        )
        found.append(Finding(name, "", "code", msg))
    for (_, e), (_, z) in zip(en_code, zh_code, strict=False):
        ev, zv = _code_view(e), _code_view(z)
        if ev != zv:
            what = ", ".join(k for k in ev if ev[k] != zv[k])
            cell = e.get("id") or ""
            msg = f"code cell differs from the English ({what}): {_excerpt(e.source)}"
            diff = ""
            if ev["source"] != zv["source"]:
                diff = _diff(e.source, z.source, cell, ("English", "Chinese notebook"))
            found.append(Finding(name, cell, "code", msg, diff))
    if not found:  # current translation: the Markdown must be what build writes from it
        try:
            expected = build_notebook(nn, root)
        except (ZhError, KeyError):
            return found  # translation_findings reports what is wrong with the file
        for want, have in zip(expected.cells, nb.cells, strict=True):
            if want.cell_type == "markdown" and want.source != have.source:
                msg = f"Markdown is not its translation (edited by hand?): {_excerpt(have.source)}"
                found.append(Finding(name, want.get("id") or "", "markdown", msg))
    return found


# ----- commands ----------------------------------------------------------------------------


def _numbers(args: list[str], root: Path) -> list[str]:
    numbers = args or all_numbers(root)
    for nn in numbers:
        english_path(nn, root)  # names a bad number
    return numbers


def status(numbers: list[str], root: Path = ROOT, out=sys.stdout) -> int:
    """Print every missing, stale and removed cell (stale ones with a diff); 1 if any."""
    problems = 0
    for nn in _numbers(numbers, root):
        found = translation_findings(nn, root)
        path = yaml_path(nn, root)
        doc = load_translation(path, root) if path.is_file() else {"removed": []}
        if found:
            missing = sum(f.kind == "missing" for f in found)
            stale = sum(f.kind == "stale" for f in found)
            removed = sum(f.kind == "removed" for f in found)
            print(f"== {nn}: {missing} missing, {stale} stale, {removed} removed", file=out)
            for f in found:
                print(f"  {f}", file=out)
        else:
            built = notebook_findings(nn, root)
            note = "" if not built else f" ({built[0].message})"
            print(f"== {nn}: translation current{note}", file=out)
        for cell in doc["removed"]:
            print(
                f"  note: removed[] keeps cell {cell['id']} for reuse; delete it when done",
                file=out,
            )
        problems += len(found)
    return 1 if problems else 0


_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)  # fenced blocks, inline code spans


def carry_code(old_en: str, new_en: str, zh_text: str) -> tuple[str, dict[str, str]] | None:
    """The translation with the English edit applied, when that edit changed only code
    (inline spans, fenced blocks: translations keep them character for character) and the
    translation holds each changed piece exactly as often as the old English; else None."""
    if _CODE.split(old_en) != _CODE.split(new_en):
        return None  # the prose changed: a translator must revise it
    old_code, new_code = _CODE.findall(old_en), _CODE.findall(new_en)
    if len(old_code) != len(new_code):
        return None
    mapping: dict[str, str] = {}
    for o, n in zip(old_code, new_code, strict=True):
        if mapping.setdefault(o, n) != n:
            return None  # the same old code became two different things
    mapping = {o: n for o, n in mapping.items() if o != n}
    zh_code = _CODE.findall(zh_text)
    if not mapping or any(zh_code.count(o) != old_code.count(o) for o in mapping):
        return None
    return _CODE.sub(lambda m: mapping.get(m.group(0), m.group(0)), zh_text), mapping


def sync(numbers: list[str], root: Path = ROOT, carry: bool = False, out=sys.stdout) -> int:
    """Bring each translation file's cells in line with the English, losing no translation.
    With ``carry``, a stale cell whose English changed only in code gets the same change in
    its ``zh`` and is current again (:func:`carry_code`); every other stale cell is kept."""
    for nn in _numbers(numbers, root):
        en_path = english_path(nn, root)
        english = english_markdown(nbformat.read(en_path, as_version=4))
        path = yaml_path(nn, root)
        old = load_translation(path, root) if path.is_file() else None
        stored = {c["id"]: c for c in old["cells"]} if old else {}
        removed = [c for c in old["removed"]] if old else []
        orphans = [c for cid, c in stored.items() if cid not in english]
        cells, log = [], []
        for cell_id, source in english.items():
            h = source_hash(source)
            cell = stored.get(cell_id)
            if cell is None:  # same English text under a new id: take that translation
                reuse = next(
                    (c for c in orphans + removed if c["en_sha256"] == h and c["zh"].strip()), None
                )
                zh = reuse["zh"] if reuse else ""
                if reuse:
                    (orphans if reuse in orphans else removed).remove(reuse)
                log.append(f"{cell_id}: new" + (f", translation of {reuse['id']}" if reuse else ""))
                cell = {"id": cell_id, "en_sha256": h, "en": source, "zh": zh}
            elif cell["en_sha256"] != h and not cell["zh"].strip():
                cell = dict(cell, en_sha256=h, en=source)  # nothing translated to keep
                log.append(f"{cell_id}: English changed, not translated yet")
            elif cell["en_sha256"] != h and carry and carry_code(cell["en"], source, cell["zh"]):
                text, mapping = carry_code(cell["en"], source, cell["zh"])
                cell = dict(cell, en_sha256=h, en=source, zh=text)
                changes = "; ".join(f"{o} -> {n}" for o, n in mapping.items())
                log.append(f"{cell_id}: English changed only in code, carried into zh: {changes}")
            elif cell["en_sha256"] != h:
                log.append(
                    f"{cell_id}: stale, kept (revise zh, then `scripts/zh.py done {nn} {cell_id}`)"
                )
            cells.append(cell)
        for c in orphans:
            log.append(f"{c['id']}: no longer in the English, moved to removed[]")
        new = {"notebook": en_path.name, "cells": cells, "removed": removed + orphans}
        header = header_of(path) if old else default_header(nn, en_path.name)
        written = save_translation(path, old, new, header)
        print(f"{rel(path, root)}: {'updated' if written else 'unchanged'}", file=out)
        for line in log:
            print(f"  {line}", file=out)
    return 0


def done(nn: str, cell_ids: list[str], root: Path = ROOT, out=sys.stdout) -> int:
    """Mark revised translations current: en and en_sha256 become the current English."""
    en_path = english_path(nn, root)
    english = english_markdown(nbformat.read(en_path, as_version=4))
    path = yaml_path(nn, root)
    old = load_translation(path, root)
    new = copy.deepcopy(old)
    by_id = {c["id"]: c for c in new["cells"]}
    for cell_id in cell_ids:
        if cell_id not in english:
            raise ZhError(f"{en_path.name}: no Markdown cell {cell_id!r} in the English notebook")
        if cell_id not in by_id:
            raise ZhError(f"{rel(path, root)}: no cell {cell_id!r}: run `scripts/zh.py sync {nn}`")
        cell = by_id[cell_id]
        if not cell["zh"].strip():
            raise ZhError(f"{rel(path, root)} cell {cell_id}: zh is empty: translate it first")
        cell["en"], cell["en_sha256"] = english[cell_id], source_hash(english[cell_id])
    written = save_translation(path, old, new, header_of(path))
    print(f"{rel(path, root)}: {'updated' if written else 'unchanged (already current)'}", file=out)
    return 0


def build(
    numbers: list[str],
    root: Path = ROOT,
    execute: bool = True,
    force: bool = False,
    out=sys.stdout,
) -> int:
    """Write (and execute) the Chinese notebooks; refuse while a translation is not current."""
    numbers = _numbers(numbers, root)
    blocking = [f for nn in numbers for f in translation_findings(nn, root)]
    if blocking:
        print(f"not built: {len(blocking)} cells need a translation first:", file=out)
        for f in blocking:
            print(f"  {f.line()}", file=out)
        print("(`make zh-status` shows the English diffs)", file=out)
        return 1
    todo = []
    for nn in numbers:
        path = chinese_path(nn, root)
        if not force and not notebook_findings(nn, root) and (not execute or executed(path)):
            print(f"{rel(path, root)}: current", file=out)
            continue
        nb = build_notebook(nn, root)
        nb.metadata[META_KEY]["executed_with"] = EXECUTED_WITH if execute else None
        if execute:
            todo.append((path, nb))
        else:
            write_if_changed(path, nbformat.writes(nb) + "\n")
            print(f"{rel(path, root)}: written (not executed: English outputs)", file=out)
    return execute_notebooks(todo, root, out) if todo else 0


EXECUTED_WITH = "COURSE_MODE=FAST COURSE_LANG=zh OMP_NUM_THREADS=1"


def executed(path: Path) -> bool:
    """Whether the Chinese notebook at ``path`` holds outputs of a run with COURSE_LANG=zh."""
    if not path.is_file():
        return False
    record = nbformat.read(path, as_version=4).metadata.get(META_KEY) or {}
    return record.get("executed_with") == EXECUTED_WITH


def execute_notebooks(todo: list, root: Path = ROOT, out=sys.stdout) -> int:
    """Run each built notebook in FAST mode with COURSE_LANG=zh, one thread, at low priority,
    through scripts/execute_notebooks.py's ``execute`` (fresh kernel, notebooks/zh/ as cwd).
    It runs as a hidden file beside its final place and replaces it only when no cell failed,
    so a failed run leaves the previous notebook (or none), never an unexecuted one."""
    sys.path.insert(0, str(root / "scripts"))
    from execute_notebooks import execute  # noqa: PLC0415

    os.environ.update(COURSE_MODE="FAST", COURSE_LANG="zh", OMP_NUM_THREADS="1")
    os.nice(10)  # the kernels inherit it: others' work on shared cores goes first
    failed = 0
    for path, nb in todo:
        part = path.with_name(f".{path.name}.part")
        try:
            nbformat.write(nb, part)
            seconds = execute(part)
            os.replace(part, path)
            print(f"{rel(path, root)}: written, executed in {seconds:.1f} s", file=out, flush=True)
        except Exception as e:  # a failing cell, a dead kernel: report it, go on with the next
            failed += 1
            print(f"{rel(path, root)}: FAILED, not written\n{str(e)[-2000:]}", file=out, flush=True)
        finally:
            part.unlink(missing_ok=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("status", "list missing, stale and removed cells (exit 1 if any)"),
        ("sync", "after English edits: add new cells, keep every translation"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("numbers", nargs="*", metavar="NN")
        if name == "sync":
            p.add_argument(
                "--carry-code",
                action="store_true",
                help="where the English changed only in code spans or blocks, change zh the same",
            )
    p = sub.add_parser("done", help="the translation of these cells is revised")
    p.add_argument("number", metavar="NN")
    p.add_argument("cells", nargs="+", metavar="CELL_ID")
    p = sub.add_parser("build", help="write and execute notebooks/zh/NN_*.ipynb")
    p.add_argument("numbers", nargs="*", metavar="NN")
    p.add_argument("--no-execute", action="store_true", help="write only, keep English outputs")
    p.add_argument("--force", action="store_true", help="rebuild notebooks that are current")
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            return status(args.numbers)
        if args.command == "sync":
            return sync(args.numbers, carry=args.carry_code)
        if args.command == "done":
            return done(args.number, args.cells)
        return build(args.numbers, execute=not args.no_execute, force=args.force)
    except ZhError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
