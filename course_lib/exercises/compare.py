"""What a self-check asserts about the learner's answer (notebooks 00-13).

``framework`` runs the learner's function and reports; this module judges what came back.
``check`` raises ``AssertionError(hint)`` unless a condition holds; ``check_type`` and
``check_tensor`` say what the function should have returned; ``check_close`` compares a
tensor with the expected one; ``name_mistake`` compares the answer with what each usual
mistake returns and raises that mistake's hint (``same`` is its notion of "agree").
"""

from __future__ import annotations

from types import UnionType
from typing import Any

import torch

from course_lib.i18n import _


def check(condition: Any, hint: str) -> None:
    """Raise ``AssertionError(hint)`` unless ``condition`` holds."""
    if not condition:
        raise AssertionError(hint)


def check_type(value: Any, kind: type | UnionType, hint: str) -> None:
    """``value`` is an instance of ``kind``; else ``hint``, whose ``{type}`` names what it is."""
    check(isinstance(value, kind), hint.format(type=type(value).__name__))


def check_tensor(value: Any) -> None:
    """The learner's function returned a tensor."""
    check_type(value, torch.Tensor, _("return a tensor, got {type}"))


def check_close(actual: Any, expected: torch.Tensor, hint: str, atol: float = 1e-5) -> None:
    """``actual`` is a tensor of ``expected``'s shape and values (within ``atol``)."""
    check_type(actual, torch.Tensor, _("expected a torch.Tensor, got {type}"))
    check(
        actual.shape == expected.shape,
        _("expected shape {want}, got {got}").format(
            want=tuple(expected.shape), got=tuple(actual.shape)
        ),
    )
    check(torch.allclose(actual.float(), expected.float(), atol=atol, rtol=1e-4), hint)


def same(a: Any, b: Any, atol: float = 1e-5) -> bool:
    """``a`` and ``b`` agree: tensors of one shape within ``atol``, numbers within ``atol``."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and bool(torch.allclose(a.double(), b.double(), atol=atol, rtol=1e-4, equal_nan=True))
        )
    if isinstance(a, bool | int | float) and isinstance(b, bool | int | float):
        return abs(a - b) <= atol
    try:
        return bool(a == b)
    except Exception:
        return False


def name_mistake(got: Any, want: Any, mistakes: list[tuple[Any, str]], atol: float = 1e-5) -> None:
    """Raise the hint of the first mistake whose result ``got`` reproduces (and ``want`` does not).

    Each mistake is ``(what_that_mistake_returns, hint)``, computed on the check's input.
    """
    for result, hint in mistakes:
        if same(got, result, atol) and not same(want, result, atol):
            raise AssertionError(hint)
