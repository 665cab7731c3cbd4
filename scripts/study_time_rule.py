"""Study times from the content of a notebook: the floor a stated study time must reach.

The rule (issue 12; every notebook's header states a time at least this floor):

- prose, every Markdown cell, read at 120 words a minute;
- code, every code cell, read at 10 non-blank, non-comment lines a minute;
- 8 minutes for each **core** exercise; optional exercises are not counted;
- the measured run time of every code cell: the time from ``iopub.execute_input`` to
  ``shell.execute_reply`` that nbclient stores in the cell's ``metadata.execution`` when
  ``scripts/execute_notebooks.py`` runs the notebook (FAST mode, one thread), so the floor
  is a learner's pace, reading and running (issue 17). A cell without timestamps adds 0.

An exercise cell's first line says which it is: ``# exercise (core)`` or
``# exercise (optional)``. A code cell that asks for a function (``def my_...`` with
``raise NotImplementedError``) and carries no marker counts as core, so an unmarked
exercise is never free. A whole section is optional when its heading ends in
"(optional)", e.g. ``## 7. The training panel (optional)``: its cells, up to the next
heading of the same or a higher level, are left out of the floor.

``notebook_floor(nb)`` gives the counts and the floor of a notebook,
``section_floors(nb)`` the same per ``##`` section (the 90-minute core path of
``docs/teaching.md`` is a sum of those), ``stated_minutes(nb)`` reads the header's
"| study time | N minutes |". ``scripts/study_time.py`` prints them all.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat

WORDS_PER_MINUTE = 120
CODE_LINES_PER_MINUTE = 10
MINUTES_PER_CORE_EXERCISE = 8
MARKER = re.compile(r"^#\s*exercise\s*\((core|optional)\)\s*$", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
STATED = re.compile(r"\|\s*study time\s*\|\s*(\d+)\s*minutes\s*\|", re.IGNORECASE)
WORD = re.compile(r"[A-Za-z0-9]")


@dataclass(frozen=True)
class StudyTime:
    """What a learner reads and does in some cells, and the minutes it takes at least."""

    words: int = 0
    code_lines: int = 0
    core_exercises: int = 0
    optional_exercises: int = 0
    run_ms: int = 0  # measured run time of the code cells, milliseconds

    @property
    def reading_minutes(self) -> float:
        """Reading the prose and code and doing the core exercises, without running."""
        return (
            self.words / WORDS_PER_MINUTE
            + self.code_lines / CODE_LINES_PER_MINUTE
            + self.core_exercises * MINUTES_PER_CORE_EXERCISE
        )

    @property
    def run_minutes(self) -> float:
        """The measured run time of the code cells, in minutes."""
        return self.run_ms / 60_000

    @property
    def minutes(self) -> float:
        """The exact floor in minutes (not rounded): reading plus running."""
        return self.reading_minutes + self.run_minutes

    @property
    def floor(self) -> int:
        """The floor in whole minutes, rounded up."""
        return math.ceil(self.minutes - 1e-9)

    def __add__(self, other: StudyTime) -> StudyTime:
        return StudyTime(
            self.words + other.words,
            self.code_lines + other.code_lines,
            self.core_exercises + other.core_exercises,
            self.optional_exercises + other.optional_exercises,
            self.run_ms + other.run_ms,
        )


def count_words(markdown: str) -> int:
    """Words a learner reads: link targets, image sources and HTML tags are not words."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", markdown)  # images (badges)
    text = re.sub(r"\]\([^)]*\)", "] ", text)  # keep a link's text, drop its target
    text = re.sub(r"<[^>]+>", " ", text)
    return sum(1 for token in text.split() if WORD.search(token))


def count_code_lines(source: str) -> int:
    """Non-blank lines that are not comments (``# ...``)."""
    return sum(
        1 for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )


def exercise_kind(source: str) -> str | None:
    """ "core", "optional" or None (not an exercise cell), from the first line marker."""
    lines = source.strip().splitlines()
    if lines:
        m = MARKER.match(lines[0].strip())
        if m:
            return m.group(1).lower()
    if re.search(r"^def my_\w+\(", source, re.MULTILINE) and "raise NotImplementedError" in source:
        return "core"  # an unmarked exercise counts
    return None


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run_ms(cell) -> int:
    """A code cell's measured run time from nbclient's ``metadata.execution`` (0 if absent)."""
    times = cell.get("metadata", {}).get("execution", {})
    start, end = times.get("iopub.execute_input"), times.get("shell.execute_reply")
    if not (start and end):
        return 0
    try:
        seconds = (_timestamp(end) - _timestamp(start)).total_seconds()
    except ValueError:
        return 0
    return max(0, round(seconds * 1000))


def cell_study_time(cell) -> StudyTime:
    """The words, code lines and exercises of one cell."""
    if cell.cell_type == "markdown":
        return StudyTime(words=count_words(cell.source))
    if cell.cell_type != "code":
        return StudyTime()
    kind = exercise_kind(cell.source)
    return StudyTime(
        code_lines=count_code_lines(cell.source),
        core_exercises=int(kind == "core"),
        optional_exercises=int(kind == "optional"),
        run_ms=run_ms(cell),
    )


def units(nb) -> list[tuple[tuple[int, str] | None, StudyTime]]:
    """The notebook as (heading, counts) units: a code cell is one unit; a Markdown cell is
    cut at its heading lines, so a heading in the middle of a cell starts a new unit."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            out.append((None, cell_study_time(cell)))
            continue
        chunks: list[list[str]] = [[]]
        fenced = False  # a "# comment" inside ``` ... ``` is not a heading
        for line in cell.source.splitlines():
            fenced ^= line.lstrip().startswith("```")
            if not fenced and HEADING.match(line) and any(x.strip() for x in chunks[-1]):
                chunks.append([])
            chunks[-1].append(line)
        for chunk in chunks:
            first = next((x for x in chunk if x.strip()), "")
            m = HEADING.match(first)
            head = (len(m.group(1)), m.group(2)) if m else None
            out.append((head, StudyTime(words=count_words("\n".join(chunk)))))
    return out


def counted_units(nb) -> list[tuple[tuple[int, str] | None, StudyTime, bool]]:
    """Each unit with whether it counts (False inside a section headed "... (optional)")."""
    out, skip_level = [], None
    for head, time in units(nb):
        if head and skip_level is not None and head[0] <= skip_level:
            skip_level = None
        if head and skip_level is None and head[1].lower().endswith("(optional)"):
            skip_level = head[0]
        out.append((head, time, skip_level is None))
    return out


def notebook_floor(nb) -> StudyTime:
    """Counts and floor of a whole notebook (optional sections left out)."""
    total = StudyTime()
    for _, time, counts in counted_units(nb):
        if counts:
            total += time
    return total


def section_floors(nb) -> dict[str, StudyTime]:
    """Counts per ``##`` section, keyed by its heading ("1. One module ..."); cells before
    the first ``##`` heading are under "header". Optional sections count as zero."""
    sections: dict[str, StudyTime] = {"header": StudyTime()}
    current = "header"
    for head, time, counts in counted_units(nb):
        if head and head[0] == 2:
            current = head[1]
            sections.setdefault(current, StudyTime())
        if counts:
            sections[current] += time
    return sections


def stated_minutes(nb, name: str = "notebook") -> int:
    """The study time the header states, "| study time | N minutes |"."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = STATED.search(cell.source)
            if m:
                return int(m.group(1))
    raise ValueError(
        f"{name}: no header row '| study time | N minutes |' found; add it to the title cell"
    )


def read(path: str | Path):
    """A notebook from disk, with a clear error for a bad path."""
    p = Path(path)
    if not p.is_file() or p.suffix != ".ipynb":
        raise ValueError(f"notebook={str(p)!r} is not allowed: give an existing .ipynb file")
    return nbformat.read(p, as_version=4)


SECTION_NUMBER = re.compile(r"^(\d+)\.\s")


def numbered_sections(nb) -> list[tuple[str, str, StudyTime]]:
    """(number, title, counts) per numbered ``## N.`` section. The header goes with the
    first section; unnumbered sections (summary, appendix) go with the one before."""
    out: list[tuple[str, str, StudyTime]] = []
    pending = StudyTime()
    for title, time in section_floors(nb).items():
        m = SECTION_NUMBER.match(title)
        if m:
            out.append((m.group(1), title, time + pending))
            pending = StudyTime()
        elif out:
            number, first, before = out[-1]
            out[-1] = (number, first, before + time)
        else:
            pending += time
    if not out:  # a notebook without numbered sections is one section
        out.append(("1", "the whole notebook", pending))
    return out


@dataclass(frozen=True)
class Session:
    """One class session: consecutive sections, and the minutes of work they hold."""

    parts: tuple[tuple[str, str], ...]  # (notebook "04", section "3")
    minutes: float

    def label(self) -> str:
        """e.g. "04 §5-6, 05 §1-2": each notebook's sections in this session."""
        by_nb: dict[str, list[str]] = {}
        for nn, number in self.parts:
            by_nb.setdefault(nn, []).append(number)
        return ", ".join(
            f"{nn} §{n[0]}" + (f"-{n[-1]}" if len(n) > 1 else "") for nn, n in by_nb.items()
        )


def plan_sessions(
    course: list[tuple[str, list[tuple[str, str, StudyTime]]]], work_minutes: float
) -> list[Session]:
    """Split the sections, in course order, into sessions of at most ``work_minutes``.

    ``course`` is [(notebook number, numbered_sections(nb)), ...]. A session breaks only
    between sections. Among the splits, the plan takes the fewest sessions, then the fewest
    breaks inside a notebook, then the most even sessions (dynamic programming over the
    break points). A section longer than ``work_minutes`` is an error naming it."""
    items = [(nn, number, time.minutes) for nn, sections in course for number, _, time in sections]
    for nn, sections in course:
        for _, title, time in sections:
            if time.minutes > work_minutes:
                raise ValueError(
                    f"notebook {nn}, section {title!r}: {time.minutes:.1f} minutes do not fit a "
                    f"{work_minutes}-minute slot; split it or mark part of it optional"
                )
    n = len(items)
    best: list[tuple | None] = [None] * (n + 1)  # best[j]: (cost, previous break) for items[:j]
    best[0] = ((0, 0, 0.0), 0)
    for j in range(1, n + 1):
        load = 0.0
        for i in range(j - 1, -1, -1):  # session = items[i:j]
            load += items[i][2]
            if load > work_minutes:
                break
            if best[i] is None:
                continue
            (groups, splits, slack), _ = best[i]
            mid = int(0 < i < n and items[i - 1][0] == items[i][0])
            cost = (groups + 1, splits + mid, slack + (work_minutes - load) ** 2)
            if best[j] is None or cost < best[j][0]:
                best[j] = (cost, i)
    cuts, j = [], n
    while j > 0:
        i = best[j][1]
        cuts.append((i, j))
        j = i
    return [
        Session(tuple((nn, number) for nn, number, _ in items[i:j]), sum(m for *_, m in items[i:j]))
        for i, j in reversed(cuts)
    ]


# The 90-minute core path of docs/teaching.md: what sharing is (04), what it costs and
# saves (08), how to choose (11); (notebook, section number).
CORE_PATH = (("04", "1"), ("04", "5"), ("08", "2"), ("08", "6"), ("11", "1"), ("11", "3"))
CORE_PATH_MINUTES = 90
# A 90-minute class session: 10 minutes to pose its question, 70 of work, 10 to compare.
SESSION_WORK_MINUTES = 70


def section(nb, number: str, name: str = "notebook") -> tuple[str, StudyTime]:
    """(title, counts) of the ``## number.`` section alone (no header, no summary)."""
    for title, time in section_floors(nb).items():
        m = SECTION_NUMBER.match(title)
        if m and m.group(1) == number:
            return title, time
    raise ValueError(f"{name}: no section '## {number}. ...'; the sections are numbered 1, 2, ...")
