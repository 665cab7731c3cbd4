"""Name lists are written once (issue 19): the block strategies, the task names and the
largest seed live in ``course_lib/config.py``; every other module imports them.

The scan reads each module with ``ast`` and flags a tuple, list or set of string literals that
holds every block strategy (``sequence``, ``cycle``, ``cycle_rev``) or both trainable tasks
(``classify``, ``lm``), and the literal ``2**32``; prose in docstrings and messages is free.
"""

import ast
from pathlib import Path

from course_lib.config import BLOCK_STRATEGIES, MAX_SEED, SHARING_STRATEGIES, TASKS, TRAIN_TASKS

PACKAGE = Path(__file__).resolve().parents[2] / "course_lib"
HOME = PACKAGE / "config.py"
LISTS = {"block strategies": set(BLOCK_STRATEGIES), "task names": set(TRAIN_TASKS)}


def spelled_out(source: str) -> list[str]:
    """Each name list, and each ``2**32``, written as a literal in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            strings = {e.value for e in node.elts if isinstance(e, ast.Constant)}
            found += [(node.lineno, f"the {what}") for what, names in LISTS.items()
                      if names <= strings]  # fmt: skip
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Pow)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.right, ast.Constant)
            and (node.left.value, node.right.value) == (2, 32)
        ):
            found.append((node.lineno, "2**32 (use config.MAX_SEED)"))
    return [f"line {n}: {what}" for n, what in sorted(found)]


def test_the_scan_finds_each_spelling():
    source = (
        'ok = "sequence, cycle and cycle_rev take M"\n'
        'a = sharing in ("sequence", "cycle", "cycle_rev")\n'
        'b = {"none", "all", "sequence", "cycle", "cycle_rev"}\n'
        'c = ["classify", "lm"]\n'
        "d = seed < 2**32\n"
    )
    assert spelled_out(source) == [
        "line 2: the block strategies",
        "line 3: the block strategies",
        "line 4: the task names",
        "line 5: 2**32 (use config.MAX_SEED)",
    ]


def test_config_holds_each_list_once_and_builds_the_longer_ones_from_it():
    assert SHARING_STRATEGIES[-len(BLOCK_STRATEGIES) :] == BLOCK_STRATEGIES
    assert TASKS[: len(TRAIN_TASKS)] == TRAIN_TASKS and "encode" in TASKS
    assert MAX_SEED == 2**32 - 1
    assert [hit.split(": ", 1)[1] for hit in spelled_out(HOME.read_text())] == [
        "the block strategies",  # BLOCK_STRATEGIES
        "the task names",  # TRAIN_TASKS
        "2**32 (use config.MAX_SEED)",  # MAX_SEED itself
    ]


def test_no_module_outside_config_spells_a_name_list_out():
    offenders = [
        f"{path.relative_to(PACKAGE.parent)} {hit}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != HOME
        for hit in spelled_out(path.read_text())
    ]
    assert not offenders, "import these from course_lib.config instead:\n" + "\n".join(offenders)
