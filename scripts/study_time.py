"""Print each notebook's study-time floor beside the time its header states.

    python scripts/study_time.py                 # every notebook
    python scripts/study_time.py --sections notebooks/04_what_sharing_means.ipynb

Floor = words / 120 + code lines / 10 + 8 x core exercises, in minutes, rounded up
(course_lib/exercises/study_time.py; tests/test_study_time.py fails when a header is lower).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.exercises import study_time as st  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--sections", action="store_true", help="one line per ## section")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    low = 0
    print(
        f"{'notebook':34s} {'words':>6s} {'code':>5s} {'core':>4s} {'opt':>4s} {'floor':>6s} stated"
    )
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
            f"{path.stem[:34]:34s} {total.words:6d} {total.code_lines:5d} {total.core_exercises:4d} "
            f"{total.optional_exercises:4d} {total.floor:6d} {stated if stated else '-':>6}{flag}"
        )
        if args.sections:
            for title, s in st.section_floors(nb).items():
                print(f"    {title[:58]:58s} {s.minutes:6.1f} min")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
