"""Print each notebook's study-time floor beside the time its header states.

    python scripts/study_time.py                 # every notebook
    python scripts/study_time.py --sections notebooks/04_what_sharing_means.ipynb
    python scripts/study_time.py --update-docs   # rewrite docs/teaching.md's plan tables
    python scripts/study_time.py --lang zh       # the Chinese edition's floors and headers
    python scripts/study_time.py --update-docs --lang zh  # only the Chinese docs: see below

Floor = words / 120 + code lines / 10 + 8 x core exercises + the cells' measured run time
(nbclient's metadata.execution timestamps, stored when scripts/execute_notebooks.py runs a
notebook), in minutes, rounded up (scripts/study_time_rule.py; tests/catalogues/test_study_time.py
fails when a header is lower, tests/catalogues/test_site.py when docs/teaching.md's tables differ from
what this script writes). The "read" column is the floor without the run time.

The Chinese edition (issue 21; --lang zh) reads each notebook with its prose from
notebooks/zh/NN.yaml at 250 Han characters a minute (the rule's docstring says why) and the
same code, exercise and run-time terms. ``--update-docs --lang zh`` writes the Chinese docs'
generated parts, and nothing English: docs/teaching.zh.md's study-time column, core path and
session plan (Chinese labels, Chinese section titles) and README.zh.md's course map (its
study-time column and its launch links to the Chinese notebooks, and the badge line).
tests/course/test_zh_docs.py fails when they differ from what this writes.
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

import add_badges  # noqa: E402  (the README's launch column)
import study_time_rule as st  # noqa: E402
import zh  # noqa: E402  (the Chinese notebooks' launch links)

from course_lib import launch  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
GUIDE = ROOT / "docs" / "teaching.md"
ZH_NOTEBOOKS = NOTEBOOKS / "zh"  # the translations NN.yaml and the Chinese notebooks
ZH_GUIDE = ROOT / "docs" / "teaching.zh.md"
ZH_README = ROOT / "README.zh.md"
LANGS = ("en", "zh")
# The generated tables' words, per language.
WORDS = {
    "en": {
        "core_head": "| step | notebook | section | minutes |",
        "total": "total",
        "sessions_head": "| session | notebooks and sections | minutes of work |",
        "and": ", ",
    },
    "zh": {
        "core_head": "| 步骤 | notebook | 小节 | 分钟 |",
        "total": "合计",
        "sessions_head": "| 课次 | notebook 和小节 | 练习时间（分钟） |",
        "and": "、",
    },
}


def notebook_path(nn: str) -> Path:
    matches = sorted(NOTEBOOKS.glob(f"{nn}_*.ipynb"))
    if len(matches) != 1:
        raise ValueError(f"notebook {nn!r}: expected one notebooks/{nn}_*.ipynb, found {matches}")
    return matches[0]


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"lang={lang!r} is not allowed: choose one of {', '.join(LANGS)}")


def translation(nn: str, lang: str = "en") -> dict[str, str] | None:
    """The Chinese prose of notebook ``nn`` ({cell id: zh}) for ``lang="zh"``, else None."""
    _check_lang(lang)
    return st.read_translation(ZH_NOTEBOOKS / f"{nn}.yaml") if lang == "zh" else None


def core_path_rows(lang: str = "en") -> list[tuple[str, str, float]]:
    """(notebook, section title, minutes) of each step of the core path; for ``lang="zh"``
    the Chinese title and the minutes of the Chinese prose."""
    rows = []
    for nn, number in st.CORE_PATH:
        path = notebook_path(nn)
        nb, tr = st.read(path), translation(nn, lang)
        title, time = st.section(nb, number, path.name, tr)
        if tr is not None:
            title = st.translated_headings(nb, tr).get(title, title)
        rows.append((nn, title, time.minutes))
    return rows


def core_path_table(lang: str = "en") -> str:
    words = WORDS[lang]
    rows = core_path_rows(lang)
    lines = [words["core_head"], "|---|---|---|---|"]
    for i, (nn, title, minutes) in enumerate(rows, 1):
        lines.append(f"| {i} | {nn} | {title} | {minutes:.1f} |")
    lines.append(f"| | | {words['total']} | {sum(m for *_, m in rows):.1f} |")
    return "\n".join(lines)


def sessions(lang: str = "en") -> list[st.Session]:
    course = [
        (p.name[:2], st.numbered_sections(st.read(p), translation(p.name[:2], lang)))
        for p in sorted(NOTEBOOKS.glob("*.ipynb"))
    ]
    return st.plan_sessions(course, st.SESSION_WORK_MINUTES)


def sessions_table(lang: str = "en") -> str:
    words = WORDS[lang]
    lines = [words["sessions_head"], "|---|---|---|"]
    for i, s in enumerate(sessions(lang), 1):
        label = s.label().replace(", ", words["and"])
        lines.append(f"| {i} | {label} | {math.ceil(s.minutes)} |")
    return "\n".join(lines)


BLOCKS = {"core-path": core_path_table, "sessions": sessions_table}


def block_pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- {name} -->\n)(.*?)(<!-- /{name} -->)", re.DOTALL)


def update_docs(text: str, lang: str = "en") -> str:
    """``text`` with each generated block (between <!-- name --> markers) rewritten; for
    ``lang="zh"`` (docs/teaching.zh.md) also its study-time column."""
    _check_lang(lang)
    guide = GUIDE if lang == "en" else ZH_GUIDE
    for name, make in BLOCKS.items():
        pattern = block_pattern(name)
        if not pattern.search(text):
            raise ValueError(f"{guide.name}: no '<!-- {name} -->' ... '<!-- /{name} -->' block")
        table = make(lang)
        text = pattern.sub(lambda m, table=table: m.group(1) + table + "\n" + m.group(3), text)
    return zh_minutes_column(text, guide.name) if lang == "zh" else text


# ----- the Chinese docs: study times and README.zh.md's course map


def zh_minutes() -> dict[str, int]:
    """{NN: the study time each Chinese notebook's header states} (st.zh_stated_minutes)."""
    out = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nn = path.name[:2]
        out[nn] = st.zh_stated_minutes(st.read(path), translation(nn, "zh"), path.name)
    return out


ZH_ROW = re.compile(r"^\| (\d\d) \|")
ZH_MINUTES_CELL = re.compile(r"^\d+ 分钟$")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


def zh_minutes_column(text: str, name: str, minutes: dict[str, int] | None = None) -> str:
    """``text`` with the "N 分钟" cell of every table row "| NN | ..." set to notebook NN's
    Chinese study time; an error naming ``name`` unless every notebook has such a row."""
    minutes = zh_minutes() if minutes is None else minutes
    lines, seen = text.split("\n"), set()
    for k, line in enumerate(lines):
        m = ZH_ROW.match(line)
        cells = _cells(line) if m else []
        at = next((i for i, c in enumerate(cells) if ZH_MINUTES_CELL.match(c)), None)
        if m and at is not None and m.group(1) in minutes:
            cells[at] = f"{minutes[m.group(1)]} 分钟"
            lines[k] = "| " + " | ".join(cells) + " |"
            seen.add(m.group(1))
    missing = sorted(set(minutes) - seen)
    if missing:
        raise ValueError(
            f"{name}: no table row '| NN | ... | N 分钟 |' for notebook(s) {', '.join(missing)}"
        )
    return "\n".join(lines)


def zh_launch_cell(name: str) -> str:
    """The Binder and Colab links of the Chinese notebook ``notebooks/zh/<name>``: the
    English ones of course_lib.launch (add_badges.launch_cell) as scripts/zh.py points a
    Chinese notebook's badges at itself."""
    return zh.zh_markdown(add_badges.launch_cell(name), badges=True)


def zh_readme_text(text: str) -> str:
    """README.zh.md with its course map's study times and launch links, and its badge line
    (the line starting "[![Binder]("), set to the current ones."""
    text = zh_minutes_column(text, ZH_README.name)
    lines = text.split("\n")
    for k, line in enumerate(lines):
        if line.startswith("[![Binder]("):
            lines[k] = zh.zh_markdown(launch.badges_markdown(), badges=True)
        m = re.match(r"^\| \d\d \| \[[^]]+\]\(notebooks/zh/([\w.-]+\.ipynb)\) \|", line)
        if m:
            cells = _cells(line)
            if "[Binder](" in cells[-1]:
                cells[-1] = zh_launch_cell(m.group(1))
                lines[k] = "| " + " | ".join(cells) + " |"
    return "\n".join(lines)


def update_zh_docs() -> list[Path]:
    """Rewrite the generated parts of docs/teaching.zh.md and README.zh.md; return the
    files that changed."""
    changed = []
    for path, make in ((ZH_GUIDE, lambda t: update_docs(t, "zh")), (ZH_README, zh_readme_text)):
        old = path.read_text(encoding="utf-8")
        new = make(old)
        if new != old:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--sections", action="store_true", help="one line per ## section")
    parser.add_argument("--update-docs", action="store_true", help="rewrite teaching.md's plans")
    parser.add_argument(
        "--lang", choices=LANGS, default="en", help="zh: the Chinese edition (default: en)"
    )
    args = parser.parse_args(argv)
    if args.lang == "zh":
        return main_zh(args, parser)
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


def main_zh(args, parser) -> int:
    """--lang zh: print each notebook's Chinese floor and header, or --update-docs."""
    if args.update_docs:
        try:
            changed = update_zh_docs()
        except ValueError as e:
            parser.error(str(e))
        for path in changed:
            print(f"wrote {path.relative_to(ROOT)}")
        if not changed:
            print(f"{ZH_GUIDE.relative_to(ROOT)} and {ZH_README.name} are current")
        return 0
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    print(
        f"{'notebook':34s} {'chars':>6s} {'words':>6s} {'read':>5s} {'run':>5s} {'floor':>6s} 学习时间"
    )
    for path in paths:
        try:
            nb, tr = st.read(path), translation(path.name[:2], "zh")
            total, stated = st.notebook_floor(nb, tr), st.zh_stated_minutes(nb, tr, path.name)
        except ValueError as e:
            parser.error(str(e))
        print(
            f"{path.stem[:34]:34s} {total.chars:6d} {total.words:6d} "
            f"{total.reading_minutes:5.1f} {total.run_minutes:5.1f} {total.floor:6d} {stated:>6}"
        )
        if args.sections:
            titles = st.translated_headings(nb, tr)
            for title, s in st.section_floors(nb, tr).items():
                print(f"    {titles.get(title, title)[:58]:58s} {s.minutes:6.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
