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

The Chinese edition (issue 21) reads the same notebook with its prose in Chinese
(``notebooks/zh/NN.yaml``): the same code-line, exercise and run-time terms, and the prose
term at a Chinese reading rate:

- Han characters read at 250 a minute (``CHARS_PER_MINUTE``), and the Latin-script words
  inside the Chinese prose (identifiers, ALBERT, FLOPs, numbers) at the English 120 a minute.
  Why 250: the English 120 words a minute is about half the 238 words a minute that
  Brysbaert (2019, "How many words do we read per minute?", J. Mem. Lang. 109:104047)
  found for adults' silent reading of English non-fiction: a pace for technical text that is
  studied, not skimmed. The Chinese rate takes the same half of 500 characters a minute,
  the silent-reading speed for ordinary modern prose that China's compulsory-education
  curriculum standard for Chinese (义务教育语文课程标准, 2011 edition, grades 7-9) asks of
  pupils. Like the English rate it is a floor, not measured on this course's learners.
- The structure (sections, "(optional)" headings) is the English notebook's: a translated
  cell is cut at the same heading lines, so its chunks pair with the English ones.

``notebook_floor(nb, translation)`` and ``section_floors(nb, translation)`` take the
translation as {cell id: Chinese Markdown}; ``read_translation(path)`` reads it from a
``notebooks/zh/NN.yaml``. The Chinese header states ``zh_stated_minutes(nb, translation)``:
the English header's minutes, less the English prose term, plus the Chinese one, rounded up
to 5 minutes as the English headers are (never below the Chinese floor, since every other
term is the same). ``zh_header(markdown, minutes)`` writes it into the header row
"| 学习时间 | N 分钟 |"; ``zh_stated_in(nb)`` reads it back.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat
import yaml

WORDS_PER_MINUTE = 120
CHARS_PER_MINUTE = 250  # Han characters, the Chinese edition (see the module docstring)
CODE_LINES_PER_MINUTE = 10
MINUTES_PER_CORE_EXERCISE = 8
MARKER = re.compile(r"^#\s*exercise\s*\((core|optional)\)\s*$", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
STATED = re.compile(r"\|\s*study time\s*\|\s*(\d+)\s*minutes\s*\|", re.IGNORECASE)
WORD = re.compile(r"[A-Za-z0-9]")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")  # CJK ideographs
ZH_STATED = re.compile(r"(\|\s*学习时间\s*\|\s*)(\d+)(\s*分钟\s*\|)")
ZH_ROUND_TO = 5  # the Chinese header's minutes are rounded up to this, as the English ones


@dataclass(frozen=True)
class StudyTime:
    """What a learner reads and does in some cells, and the minutes it takes at least."""

    words: int = 0
    code_lines: int = 0
    core_exercises: int = 0
    optional_exercises: int = 0
    run_ms: int = 0  # measured run time of the code cells, milliseconds
    chars: int = 0  # Han characters of Chinese prose (0 for the English notebooks)

    @property
    def prose_minutes(self) -> float:
        """Reading the prose: words at 120 a minute, Han characters at 250."""
        return self.words / WORDS_PER_MINUTE + self.chars / CHARS_PER_MINUTE

    @property
    def reading_minutes(self) -> float:
        """Reading the prose and code and doing the core exercises, without running."""
        return (
            self.words / WORDS_PER_MINUTE
            + self.chars / CHARS_PER_MINUTE
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
            self.chars + other.chars,
        )


def count_words(markdown: str) -> int:
    """Words a learner reads: link targets, image sources and HTML tags are not words."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", markdown)  # images (badges)
    text = re.sub(r"\]\([^)]*\)", "] ", text)  # keep a link's text, drop its target
    text = re.sub(r"<[^>]+>", " ", text)
    return sum(1 for token in text.split() if WORD.search(token))


def _prose_text(markdown: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", markdown)  # images (badges)
    text = re.sub(r"\]\([^)]*\)", "] ", text)  # keep a link's text, drop its target
    return re.sub(r"<[^>]+>", " ", text)


def count_chars(markdown: str) -> int:
    """Han characters a learner reads (not in link targets, image sources or HTML tags)."""
    return len(HAN.findall(_prose_text(markdown)))


def chinese_prose(markdown: str) -> StudyTime:
    """Chinese prose: its Han characters, and the Latin-script words between them."""
    return StudyTime(words=count_words(HAN.sub(" ", markdown)), chars=count_chars(markdown))


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


def _chunks(source: str) -> list[str]:
    """A Markdown cell cut at its heading lines (not inside a code fence)."""
    chunks: list[list[str]] = [[]]
    fenced = False  # a "# comment" inside ``` ... ``` is not a heading
    for line in source.splitlines():
        fenced ^= line.lstrip().startswith("```")
        if not fenced and HEADING.match(line) and any(x.strip() for x in chunks[-1]):
            chunks.append([])
        chunks[-1].append(line)
    return ["\n".join(chunk) for chunk in chunks]


def _heading(chunk: str) -> tuple[int, str] | None:
    first = next((x for x in chunk.splitlines() if x.strip()), "")
    m = HEADING.match(first)
    return (len(m.group(1)), m.group(2)) if m else None


def _translated_chunks(cell, translation: dict[str, str]) -> list[str] | None:
    """The Chinese chunks of a Markdown cell, paired one to one with its English chunks;
    None when the cell has no translation (its English is read)."""
    zh = translation.get(cell.get("id") or "", "")
    if not zh.strip():
        return None
    english, chinese = _chunks(cell.source), _chunks(zh)
    if len(english) != len(chinese):
        raise ValueError(
            f"cell {cell.get('id')}: the translation has {len(chinese)} heading-separated "
            f"parts, the English {len(english)}; give it the same headings"
        )
    return chinese


def units(nb, translation: dict[str, str] | None = None):
    """The notebook as (heading, counts) units: a code cell is one unit; a Markdown cell is
    cut at its heading lines, so a heading in the middle of a cell starts a new unit.
    With ``translation`` ({cell id: Chinese Markdown}) a translated cell's units count its
    Chinese prose; the headings (the structure) stay the English ones."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            out.append((None, cell_study_time(cell)))
            continue
        chinese = _translated_chunks(cell, translation) if translation else None
        for i, chunk in enumerate(_chunks(cell.source)):
            if chinese is None:
                time = StudyTime(words=count_words(chunk))
            else:
                time = chinese_prose(chinese[i])
            out.append((_heading(chunk), time))
    return out


def translated_headings(nb, translation: dict[str, str]) -> dict[str, str]:
    """{English heading text: its Chinese heading text}, for each heading of a translated
    cell (the tables of docs/teaching.zh.md name sections in Chinese)."""
    out = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            chinese = _translated_chunks(cell, translation)
            for i, chunk in enumerate(_chunks(cell.source)):
                head = _heading(chunk)
                zh_head = _heading(chinese[i]) if chinese else None
                if head and zh_head:
                    out[head[1]] = zh_head[1]
    return out


def counted_units(nb, translation: dict[str, str] | None = None):
    """Each unit with whether it counts (False inside a section headed "... (optional)")."""
    out, skip_level = [], None
    for head, time in units(nb, translation):
        if head and skip_level is not None and head[0] <= skip_level:
            skip_level = None
        if head and skip_level is None and head[1].lower().endswith("(optional)"):
            skip_level = head[0]
        out.append((head, time, skip_level is None))
    return out


def notebook_floor(nb, translation: dict[str, str] | None = None) -> StudyTime:
    """Counts and floor of a whole notebook (optional sections left out); with
    ``translation``, of its Chinese edition."""
    total = StudyTime()
    for _, time, counts in counted_units(nb, translation):
        if counts:
            total += time
    return total


def section_floors(nb, translation: dict[str, str] | None = None) -> dict[str, StudyTime]:
    """Counts per ``##`` section, keyed by its heading ("1. One module ..."); cells before
    the first ``##`` heading are under "header". Optional sections count as zero."""
    sections: dict[str, StudyTime] = {"header": StudyTime()}
    current = "header"
    for head, time, counts in counted_units(nb, translation):
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


def zh_stated_minutes(nb, translation: dict[str, str], name: str = "notebook") -> int:
    """The study time the Chinese notebook's header states (issue 21): the English
    header's minutes ``stated_minutes(nb)``, less the English prose's reading time, plus the
    Chinese prose's (``translation``: {cell id: Chinese Markdown}), rounded up to 5 minutes.
    ``nb`` is the ENGLISH notebook (its header, code cells and stored run times).

    scripts/zh.py calls it when it writes notebooks/zh/NN_*.ipynb, and ``zh_header`` puts
    the number into the header row "| 学习时间 | N 分钟 |"."""
    english, chinese = notebook_floor(nb), notebook_floor(nb, translation)
    minutes = stated_minutes(nb, name) - english.minutes + chinese.minutes
    stated = ZH_ROUND_TO * math.ceil(minutes / ZH_ROUND_TO - 1e-9)
    return max(stated, chinese.floor)


def zh_header(markdown: str, minutes: int, name: str = "notebook") -> str:
    """``markdown`` (the Chinese title cell) with its row "| 学习时间 | N 分钟 |" set to
    ``minutes``; a clear error when the cell has no such row."""
    if len(ZH_STATED.findall(markdown)) != 1:
        raise ValueError(
            f"{name}: the Chinese title cell needs exactly one row '| 学习时间 | N 分钟 |' "
            f"(found {len(ZH_STATED.findall(markdown))}); translate the header's study time row"
        )
    return ZH_STATED.sub(lambda m: f"{m.group(1)}{minutes}{m.group(3)}", markdown)


def zh_stated_in(nb, name: str = "notebook") -> int:
    """The study time a Chinese notebook's header states, "| 学习时间 | N 分钟 |"."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = ZH_STATED.search(cell.source)
            if m:
                return int(m.group(2))
    raise ValueError(f"{name}: no header row '| 学习时间 | N 分钟 |' found in a Markdown cell")


def read_translation(path: str | Path) -> dict[str, str]:
    """{cell id: zh} of a translation file ``notebooks/zh/NN.yaml`` (cells with an empty
    zh left out: their English is read). Checked by scripts/zh.py; here only read."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"translation={str(p)!r} is not allowed: give an existing NN.yaml")
    doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):
        raise ValueError(f"{p.name}: field 'cells' must be a list of cells (id, zh, ...)")
    return {c["id"]: c["zh"] for c in cells if isinstance(c, dict) and (c.get("zh") or "").strip()}


def read(path: str | Path):
    """A notebook from disk, with a clear error for a bad path."""
    p = Path(path)
    if not p.is_file() or p.suffix != ".ipynb":
        raise ValueError(f"notebook={str(p)!r} is not allowed: give an existing .ipynb file")
    return nbformat.read(p, as_version=4)


SECTION_NUMBER = re.compile(r"^(\d+)\.\s")


def numbered_sections(nb, translation: dict[str, str] | None = None):
    """(number, title, counts) per numbered ``## N.`` section. The header goes with the
    first section; unnumbered sections (summary, appendix) go with the one before."""
    out: list[tuple[str, str, StudyTime]] = []
    pending = StudyTime()
    for title, time in section_floors(nb, translation).items():
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


def section(
    nb, number: str, name: str = "notebook", translation: dict[str, str] | None = None
) -> tuple[str, StudyTime]:
    """(title, counts) of the ``## number.`` section alone (no header, no summary)."""
    for title, time in section_floors(nb, translation).items():
        m = SECTION_NUMBER.match(title)
        if m and m.group(1) == number:
            return title, time
    raise ValueError(f"{name}: no section '## {number}. ...'; the sections are numbered 1, 2, ...")
