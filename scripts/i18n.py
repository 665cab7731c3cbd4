"""The message catalogues of course_lib (issue 21): extract the marked messages, compile them.

``course_lib/i18n.py`` says how a module marks a message (``_("...")`` where it is shown,
``N_("...")`` for text built at import time). This script keeps the catalogue of each
language other than English, ``course_lib/locale/<lang>/LC_MESSAGES/course_lib.po``, in step
with the code, and compiles it to the ``.mo`` that the standard library's ``gettext`` reads:

    python scripts/i18n.py extract          # every _() and N_() of course_lib/ and of the
                                            # English notebooks' code cells into the .po
    python scripts/i18n.py status           # the untranslated messages, with where they are used
    python scripts/i18n.py compile          # .po -> .mo (run after translating)
    python scripts/i18n.py check            # exit 1 if extract or compile would change a file

``extract`` keeps every translation, adds a new message with an empty ``msgstr`` (untranslated)
and keeps a message no longer in the code as an obsolete ``#~`` entry, so a reworded message's
old translation is at hand. It refuses an f-string inside ``_()`` and a positional ``{}``
placeholder, naming the file and line. ``compile`` is a small msgfmt of the stdlib only (no
hash table, which gettext does not need), deterministic, tested in ``tests/course/test_i18n.py``
against GNU msgfmt and Babel where they are installed; runtime dependencies stay unchanged.
"""

from __future__ import annotations

import argparse
import ast
import json
import string
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKERS = ("_", "N_", "F_", "tr")  # F_: figure text (course_lib.views.figures); tr: notebooks
DOMAIN = "course_lib"
LANGS = ("zh",)  # the catalogues kept here; English is the source text
HEADER = (
    "Project-Id-Version: course_lib\n"
    "Language: {lang}\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "Plural-Forms: nplurals=1; plural=0;\n"
)


@dataclass
class Entry:
    msgid: str
    msgstr: str = ""
    locations: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)  # translator comments, "# ..."
    obsolete: bool = False


def po_path(lang: str, root: Path = ROOT) -> Path:
    return root / "course_lib" / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def placeholders(text: str) -> list[str]:
    """The named ``{field}`` placeholders of a template, sorted (``[]`` if it is no template)."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return []
    return sorted(f"{{{name}}}" for _, name, _, _ in parsed if name is not None)


def _check_template(text: str, where: str) -> None:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return
    for _, name, _, _ in parsed:
        if name is not None and (name == "" or name.isdigit()):
            raise ValueError(
                f"{where}: the message {text!r} has a positional placeholder "
                "'{}' or '{0}': name it, '{n}', and fill it with .format(n=...)"
            )


# --- extraction ------------------------------------------------------------------------------


def _messages_in(source: str, where: str, line_offset: int = 0) -> list[tuple[str, int]]:
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id not in MARKERS or not node.args:
            continue
        arg = node.args[0]
        line = node.lineno + line_offset
        if isinstance(arg, ast.JoinedStr):
            raise ValueError(
                f"{where}:{line}: an f-string inside {node.func.id}() cannot be a catalogue "
                "message: write a template with named placeholders, "
                '_("... {n} ...").format(n=n)'
            )
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            _check_template(arg.value, f"{where}:{line}")
            found.append((arg.value, line))
    return sorted(found, key=lambda m: m[1])


def _notebook_cells(path: Path) -> list[tuple[str, str]]:
    """(cell id, code) of each code cell; IPython's %magic and !shell lines blanked."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    out = []
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.split("\n")]
        out.append((cell.get("id") or f"#{i}", "\n".join(lines)))
    return out


def extract_messages(root: Path = ROOT) -> dict[str, list[str]]:
    """Every marked message -> where it is used ("course_lib/x.py:12", "notebooks/04_...:cell id")."""
    messages: dict[str, list[str]] = {}
    for path in sorted((root / "course_lib").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for msgid, line in _messages_in(path.read_text(encoding="utf-8"), rel):
            messages.setdefault(msgid, []).append(f"{rel}:{line}")
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        rel = path.relative_to(root).as_posix()
        for cell_id, code in _notebook_cells(path):
            where = f"{rel}:cell {cell_id}"
            try:
                found = _messages_in(code, where)
            except SyntaxError as e:
                raise ValueError(f"{where}: not Python ({e.msg}, line {e.lineno})") from None
            for msgid, _line in found:
                messages.setdefault(msgid, []).append(where)
    return messages


def merge(old: list[Entry], messages: dict[str, list[str]]) -> list[Entry]:
    """The new catalogue: ``messages`` in code order with ``old``'s translations kept."""
    known = {e.msgid: e for e in old if e.msgid}
    out = []
    for msgid, locations in messages.items():
        before = known.pop(msgid, None)
        entry = Entry(msgid, before.msgstr if before else "", list(locations))
        entry.comments = before.comments if before else []
        if placeholders(msgid):
            entry.flags = ["python-brace-format"]
        out.append(entry)
    for entry in known.values():  # no longer in the code: kept, obsolete, if translated
        if entry.msgstr:
            out.append(Entry(entry.msgid, entry.msgstr, [], [], entry.comments, obsolete=True))
    return out


# --- the PO format ---------------------------------------------------------------------------

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


def _quote(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, c) for c in text) + '"'


def _unquote(token: str, where: str) -> str:
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        raise ValueError(f"{where}: expected a quoted string, got {token!r}")
    out, body, i = [], token[1:-1], 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1 : i + 2]
            if nxt not in _UNESCAPES:
                raise ValueError(f"{where}: unknown escape \\{nxt} in {token!r}")
            out.append(_UNESCAPES[nxt])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_po(path: Path) -> list[Entry]:
    """The entries of a PO file (header first, as ``msgid ""``); obsolete ``#~`` ones too."""
    entries: list[Entry] = []
    entry, key = Entry(msgid=None), None  # type: ignore[arg-type]

    def flush() -> None:
        nonlocal entry, key
        if entry.msgid is not None:
            entries.append(entry)
        entry, key = Entry(msgid=None), None  # type: ignore[arg-type]

    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path}:{n}"
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            flush()
            continue
        if line.startswith("#:"):
            if key is not None:
                flush()
            entry.locations += line[2:].split()
        elif line.startswith("#,"):
            if key is not None:
                flush()
            entry.flags += [f.strip() for f in line[2:].split(",") if f.strip()]
        elif line.startswith("#"):
            if key is not None:
                flush()
            entry.comments.append(line[1:].strip())
        elif line.startswith("msgid "):
            if key is not None:
                flush()
            entry.msgid, key = _unquote(line[6:].strip(), where), "msgid"
            entry.obsolete = obsolete
        elif line.startswith("msgstr "):
            if key != "msgid":
                raise ValueError(f"{where}: msgstr without a msgid before it")
            entry.msgstr, key = _unquote(line[7:].strip(), where), "msgstr"
        elif line.startswith('"') and key is not None:
            setattr(entry, key, getattr(entry, key) + _unquote(line, where))
        else:
            raise ValueError(f"{where}: not PO syntax: {raw!r} (plural forms are not used here)")
    flush()
    return entries


def write_po(entries: list[Entry], lang: str) -> str:
    """The PO text: the header, then one block per entry (locations, flags, msgid, msgstr)."""
    blocks = [
        f"# Messages of course_lib in {lang}; see course_lib/i18n.py and scripts/i18n.py.\n"
        'msgid ""\nmsgstr ""\n'
        + "".join(_quote(line + "\n") + "\n" for line in HEADER.format(lang=lang).splitlines())
    ]
    for e in entries:
        if not e.msgid:
            continue
        prefix = "#~ " if e.obsolete else ""
        lines = [f"# {c}" for c in e.comments]
        if e.locations:
            lines.append("#: " + " ".join(e.locations))
        if e.flags:
            lines.append("#, " + ", ".join(e.flags))
        lines.append(f"{prefix}msgid {_quote(e.msgid)}")
        lines.append(f"{prefix}msgstr {_quote(e.msgstr)}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


# --- the MO format ---------------------------------------------------------------------------


def compile_mo(entries: list[Entry]) -> bytes:
    """GNU MO bytes of the translated, non-obsolete, non-fuzzy entries and the header."""
    pairs = {
        e.msgid: e.msgstr for e in entries if e.msgstr and not e.obsolete and "fuzzy" not in e.flags
    }
    keys = sorted(pairs, key=lambda k: k.encode("utf-8"))
    ids = [k.encode("utf-8") for k in keys]
    strs = [pairs[k].encode("utf-8") for k in keys]
    n = len(keys)
    start = 7 * 4 + 16 * n  # header, then the two tables of (length, offset)
    table_ids, table_strs, blob = [], [], b""
    for b in ids:
        table_ids.append((len(b), start + len(blob)))
        blob += b + b"\0"
    for b in strs:
        table_strs.append((len(b), start + len(blob)))
        blob += b + b"\0"
    head = struct.pack("<7I", 0x950412DE, 0, n, 28, 28 + 8 * n, 0, 28 + 16 * n)
    tables = b"".join(struct.pack("<2I", *t) for t in table_ids + table_strs)
    return head + tables + blob


# --- commands --------------------------------------------------------------------------------


def _entries(lang: str, root: Path) -> list[Entry]:
    path = po_path(lang, root)
    return read_po(path) if path.is_file() else []


def extracted_po(lang: str, root: Path = ROOT) -> str:
    """The PO file that ``extract`` writes (the header is always written afresh)."""
    return write_po(merge(_entries(lang, root), extract_messages(root)), lang)


def untranslated(lang: str, root: Path = ROOT) -> list[Entry]:
    return [e for e in _entries(lang, root) if e.msgid and not e.obsolete and not e.msgstr]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("extract", "compile", "status", "check"))
    parser.add_argument("--lang", choices=LANGS, default=None, help="one catalogue (default all)")
    args = parser.parse_args(argv)
    status = 0
    for lang in [args.lang] if args.lang else LANGS:
        po = po_path(lang)
        mo = po.with_suffix(".mo")
        if args.command in ("extract", "check"):
            text = extracted_po(lang)
            if args.command == "extract":
                po.parent.mkdir(parents=True, exist_ok=True)
                po.write_text(text, encoding="utf-8")
                print(f"{po.relative_to(ROOT)}: {len(extract_messages())} messages")
            elif not po.is_file() or po.read_text(encoding="utf-8") != text:
                print(f"{po.relative_to(ROOT)} is behind the code: run scripts/i18n.py extract")
                status = 1
        if args.command in ("compile", "check"):
            data = compile_mo(_entries(lang, ROOT))
            if args.command == "compile":
                mo.write_bytes(data)
                print(f"{mo.relative_to(ROOT)}: {len(data)} bytes")
            elif not mo.is_file() or mo.read_bytes() != data:
                print(f"{mo.relative_to(ROOT)} is not what the .po compiles to: run compile")
                status = 1
        if args.command in ("status", "check"):
            missing = untranslated(lang)
            for e in missing:
                print(f"untranslated ({lang}): {e.msgid!r} used at {', '.join(e.locations)}")
            print(f"{lang}: {len(missing)} untranslated")
            status = status or (1 if missing and args.command == "check" else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
