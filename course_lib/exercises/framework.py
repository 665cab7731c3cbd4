"""The small framework of the exercises' self-checks (notebooks 00-11).

Every exercise cell of a notebook defines the learner's function ``my_x`` and runs its
check on it: ``check_01_causal_mask(my_causal_mask)``. A check is decorated with
``@exercise``: it runs under its own random seed, and when ``my_x`` still raises
``NotImplementedError`` it prints one neutral line ("not attempted yet") and returns, so a
notebook committed with the stubs runs clean. Once written, the check tries the function
on a few inputs, recognises the usual mistakes and raises ``AssertionError`` with a hint
that names the fix; on success it prints one line starting with ``✓``. This module runs
and reports: ``run`` turns an error inside the learner's function into a hint that names
the arguments' shapes and, where the check knows it, the likely cause. What a check asserts
about the answer (``check``, ``check_tensor``, ``check_close``, ``name_mistake`` ...) lives
in ``compare``. The catalogue of wrong answers each check must reject lives in
``tests/exercises/test_checks*.py`` (issue 17: at least five per core exercise).

Reference solutions live in ``solutions/`` at the repository root, never in the
notebooks: a learner who wants to see them pass asks explicitly, e.g.
``show_reference_passes("04")``. The student edition (``make student``) ships no
``solutions/``, and ``load_solution`` refuses there with a clear message.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch

from course_lib.i18n import N_, _
from course_lib.runtime import REPO_ROOT

SOLUTIONS_DIR = REPO_ROOT / "solutions"
NOT_ATTEMPTED = N_("not attempted yet: replace `raise NotImplementedError` in {name} by your code")


class NotAttempted(Exception):
    """The learner's function still raises ``NotImplementedError`` (the committed stub)."""

    def __init__(self, name: str) -> None:
        super().__init__(_(NOT_ATTEMPTED).format(name=name))


def describe(value: Any) -> str:
    """A short description of an argument for a hint: a tensor's shape, a module's repr."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        if dtype[0] in "aeiou":
            return _("an {dtype} tensor of shape {shape}").format(
                dtype=dtype, shape=tuple(value.shape)
            )
        return _("a {dtype} tensor of shape {shape}").format(dtype=dtype, shape=tuple(value.shape))
    if isinstance(value, torch.nn.Module):
        return " ".join(repr(value).split())[:60]
    if hasattr(value, "shape") and hasattr(value, "columns"):  # a pandas DataFrame
        return _("a table of {n} rows, columns {columns}").format(
            n=len(value), columns=list(value.columns)
        )
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def called_with(fn: Callable, args: tuple) -> str:
    """``q = a float32 tensor of shape (2, 3, 7, 8), k = ...``: the call, named by ``fn``'s parameters."""
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    try:
        params = inspect.signature(fn).parameters.values()
        names = [p.name for p in params if p.kind in positional]
    except (TypeError, ValueError):
        names = []
    numbered = [_("argument {i}").format(i=i + 1) for i in range(len(args))]
    names = (names + numbered[len(names) :])[: len(args)]
    return ", ".join(f"{n} = {describe(a)}" for n, a in zip(names, args, strict=True))


Likely = Callable[[Exception], "str | None"] | str | None


def if_error_says(*words: str, hint: str) -> Callable[[Exception], str | None]:
    """A ``likely`` for ``run``: ``hint`` when the error message contains one of ``words``."""
    return lambda e: hint if any(w in str(e) for w in words) else None


def run(fn: Callable, *args: Any, likely: Likely = None) -> Any:
    """Call the learner's ``fn``; an exception becomes an ``AssertionError`` with a hint.

    The hint names the arguments' shapes, and ``likely`` (a string, or a function of the
    exception returning one or None) names the probable mistake for this input.
    """
    try:
        return fn(*args)
    except NotImplementedError as e:
        if not e.args:  # the stub's bare `raise NotImplementedError`, not one from PyTorch
            raise NotAttempted(getattr(fn, "__name__", _("your function"))) from None
        error: Exception = e
    except Exception as e:  # the learner's bug, reported without a deep traceback
        error = e
    cause = likely(error) if callable(likely) else likely
    first = _("Likely cause: {cause}. ").format(cause=cause) if cause else ""
    raise AssertionError(
        first
        + _("Your function raised {error_type}: {error} (called with {call})").format(
            error_type=type(error).__name__, error=error, call=called_with(fn, args)
        )
    ) from None


def exercise(check_fn: Callable) -> Callable:
    """Make ``check_fn`` a self-check: own random state, and a neutral line for a stub."""

    @functools.wraps(check_fn)
    def wrapper(*args: Any) -> None:
        try:
            with torch.random.fork_rng(devices=[]):
                check_fn(*args)
        except NotAttempted as e:
            print(e)

    return wrapper


def passed(name: str, n: int) -> None:
    print(_("✓ {name}: all {n} checks passed").format(name=name, n=n))


def load_solution(name: str) -> ModuleType:
    """The reference solutions of one notebook, e.g. ``load_solution("01_attention")``."""
    if not SOLUTIONS_DIR.is_dir():
        raise ValueError(
            _(
                "the reference solutions are not part of this edition of the course "
                "(no {folder}): ask your teacher for the answer key"
            ).format(folder=SOLUTIONS_DIR)
        )
    path = SOLUTIONS_DIR / f"{name}.py"
    if not path.is_file():
        known = sorted(p.stem for p in SOLUTIONS_DIR.glob("*.py"))
        raise ValueError(
            _("solution={name!r} is not allowed: choose one of {known}").format(
                name=name, known=known
            )
        )
    spec = importlib.util.spec_from_file_location(f"solutions_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def solution_name(notebook: str) -> str:
    """``"04"`` -> ``"04_what_sharing_means"``: the solutions file of a notebook."""
    matches = sorted(p.stem for p in SOLUTIONS_DIR.glob(f"{notebook}_*.py"))
    if len(matches) != 1:
        known = sorted(p.stem[:2] for p in SOLUTIONS_DIR.glob("*.py"))
        raise ValueError(
            _("notebook={notebook!r} is not allowed: choose one of {known}").format(
                notebook=notebook, known=known
            )
        )
    return matches[0]


def reference_cases(notebook: str) -> list[tuple[Callable, tuple[Callable, ...]]]:
    """Each check of ``notebook`` ("01".."11") with the reference function(s) it takes.

    The check's parameters name the solution's functions: ``check_01_split_heads(
    split_heads, merge_heads)``; a check of one parameter ``fn`` takes the function named
    after the check (``check_04_count_unique`` -> ``count_unique``).
    """
    solution = load_solution(solution_name(notebook))
    module = importlib.import_module(f"{__package__}.nb{notebook}")
    cases = []
    for name, fn in vars(module).items():
        if not name.startswith(f"check_{notebook}_"):
            continue
        params = list(inspect.signature(fn).parameters)
        wanted = [name.removeprefix(f"check_{notebook}_")] if params == ["fn"] else params
        cases.append((fn, tuple(getattr(solution, w) for w in wanted)))
    return cases


def show_reference_passes(notebook: str) -> None:
    """Run every check of one notebook on the reference solutions, e.g. ``"04"``."""
    for check_fn, args in reference_cases(notebook):
        check_fn(*args)
