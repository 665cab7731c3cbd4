"""Print each notebook's study-time floor beside the time its header states.

    python scripts/study_time.py                 # every notebook
    python scripts/study_time.py --sections notebooks/04_what_sharing_means.ipynb
    python scripts/study_time.py --update-docs   # rewrite docs/teaching.md's plan tables

Floor = words / 120 + code lines / 10 + 8 x core exercises + the cells' measured run time
(nbclient's metadata.execution timestamps, stored when scripts/execute_notebooks.py runs a
notebook), in minutes, rounded up (scripts/study_time_rule.py; tests/test_study_time.py
fails when a header is lower, tests/test_site.py when docs/teaching.md's tables differ from
what this script writes). The "read" column is the floor without the run time.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))  # also when imported by a test

import study_time_rule as st  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
GUIDE = ROOT / "docs" / "teaching.md"


def notebook_path(nn: str) -> Path:
    matches = sorted(NOTEBOOKS.glob(f"{nn}_*.ipynb"))
    if len(matches) != 1:
        raise ValueError(f"notebook {nn!r}: expected one notebooks/{nn}_*.ipynb, found {matches}")
    return matches[0]


def core_path_rows() -> list[tuple[str, str, float]]:
    """(notebook, section title, minutes) of each step of the core path."""
    rows = []
    for nn, number in st.CORE_PATH:
        path = notebook_path(nn)
        title, time = st.section(st.read(path), number, path.name)
        rows.append((nn, title, time.minutes))
    return rows


def core_path_table() -> str:
    rows = core_path_rows()
    lines = ["| step | notebook | section | minutes |", "|---|---|---|---|"]
    for i, (nn, title, minutes) in enumerate(rows, 1):
        lines.append(f"| {i} | {nn} | {title} | {minutes:.1f} |")
    lines.append(f"| | | total | {sum(m for *_, m in rows):.1f} |")
    return "\n".join(lines)


def sessions() -> list[st.Session]:
    course = [
        (p.name[:2], st.numbered_sections(st.read(p))) for p in sorted(NOTEBOOKS.glob("*.ipynb"))
    ]
    return st.plan_sessions(course, st.SESSION_WORK_MINUTES)


def sessions_table() -> str:
    lines = ["| session | notebooks and sections | minutes of work |", "|---|---|---|"]
    for i, s in enumerate(sessions(), 1):
        lines.append(f"| {i} | {s.label()} | {math.ceil(s.minutes)} |")
    return "\n".join(lines)


BLOCKS = {"core-path": core_path_table, "sessions": sessions_table}


def block_pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- {name} -->\n)(.*?)(<!-- /{name} -->)", re.DOTALL)


def update_docs(text: str) -> str:
    """``text`` with each generated block (between <!-- name --> markers) rewritten."""
    for name, make in BLOCKS.items():
        pattern = block_pattern(name)
        if not pattern.search(text):
            raise ValueError(f"{GUIDE.name}: no '<!-- {name} -->' ... '<!-- /{name} -->' block")
        table = make()
        text = pattern.sub(lambda m, table=table: m.group(1) + table + "\n" + m.group(3), text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--sections", action="store_true", help="one line per ## section")
    parser.add_argument("--update-docs", action="store_true", help="rewrite teaching.md's plans")
    args = parser.parse_args(argv)
    if args.update_docs:
        GUIDE.write_text(update_docs(GUIDE.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"wrote the core path and the session plan into {GUIDE.relative_to(ROOT)}")
        return 0
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    low = 0
    head = f"{'notebook':34s} {'words':>6s} {'code':>5s} {'core':>4s} {'opt':>4s} {'read':>5s}"
    print(head + f" {'run':>5s} {'floor':>6s} stated")
    for path in paths:
        try:
            nb = st.read(path)
        except ValueError as e:
            parser.error(str(e))
        total = st.notebook_floor(nb)
        try:
            stated = st.stated_minutes(nb, path.name)
        except ValueError:
            stated = None
        flag = "" if stated is not None and stated >= total.floor else "  <- below the floor"
        low += bool(flag)
        print(
            f"{path.stem[:34]:34s} {total.words:6d} {total.code_lines:5d} "
            f"{total.core_exercises:4d} {total.optional_exercises:4d} "
            f"{total.reading_minutes:5.1f} {total.run_minutes:5.1f} {total.floor:6d} "
            f"{stated if stated else '-':>6}{flag}"
        )
        if args.sections:
            for title, s in st.section_floors(nb).items():
                print(f"    {title[:58]:58s} {s.minutes:6.1f} min")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
