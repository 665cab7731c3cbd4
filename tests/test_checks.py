"""The self-checks of every notebook (course_lib.exercises): each reference solution passes,
a stub gets one "not attempted yet" line, and every wrong answer of ``WRONG`` (here for
notebooks 01-03, in tests/test_checks_*.py for the others) gets the hint naming its mistake;
every check rejects at least two."""

import copy
import importlib.util
import math
import os
import re
from collections import Counter
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.exercises import load_solution, nb01, nb02, nb03, show_reference_passes
from course_lib.exercises.framework import NOT_ATTEMPTED, reference_cases

SOL01 = load_solution("01_attention")
SOL02 = load_solution("02_block")
SOL03 = load_solution("03_model")


def test_checks_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    nb03.check_03_train_step(SOL03.train_step)
    assert torch.equal(torch.rand(3), expected)


def _crashes(*args):
    raise RuntimeError("shape mismatch")


def _unscaled(q, k):
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1)


def _scaled_by_d(q, k):
    return torch.softmax(q @ k.transpose(-2, -1) / q.size(-1), dim=-1)


def _softmax_over_queries(q, k):
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-2)


def _split_by_direct_view(x, h):
    b, t, d = x.shape
    return x.view(b, h, t, d // h)


def _merge_without_transpose(x):
    b, h, t, dh = x.shape
    return x.reshape(b, t, h * dh)


def _unbiased_layer_norm(x, w, b, eps):
    mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def _layer_norm_without_affine(x, w, b, eps):
    return F.layer_norm(x, x.shape[-1:], None, None, eps)


def _layer_norm_over_tokens(x, w, b, eps):
    mean, var = x.mean(-2, keepdim=True), x.var(-2, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def _layer_norm_without_eps(x, w, b, eps):
    mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var) * w + b


def _train_step_without_zero_grad(model, x, y, opt):
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


def _train_step_without_step(model, x, y, opt):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    return loss.item()


def _train_step_returning_tensor(model, x, y, opt):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def _save_directly(model, path):
    torch.save(model.state_dict(), path)


def _save_module_object(model, path):
    tmp = str(path) + ".tmp"
    torch.save(model, tmp)
    os.replace(tmp, path)


def _save_and_leave_temp(model, path):
    tmp = str(path) + ".tmp"
    torch.save(model.state_dict(), tmp)
    torch.save(model.state_dict(), tmp + "2")
    os.replace(tmp, path)


WRONG = [
    (nb01.check_01_attention_weights, (_crashes,), "raised RuntimeError: shape mismatch"),
    (nb01.check_01_attention_weights, (_unscaled,), r"divide by sqrt\(d\)"),
    (nb01.check_01_attention_weights, (_scaled_by_d,), "square root of d, not by d"),
    (nb01.check_01_attention_weights, (_softmax_over_queries,), "last dimension"),
    (nb01.check_01_causal_mask, (lambda t: torch.ones(t, t, dtype=torch.bool).triu(),), "tril"),
    (
        nb01.check_01_causal_mask,
        (lambda t: torch.ones(t, t, dtype=torch.bool).tril(-1),),
        "diagonal must be True",
    ),
    (nb01.check_01_causal_mask, (lambda t: torch.ones(t, t).tril(),), "boolean"),
    (nb01.check_01_padding_mask, (lambda ids, p: ids != p,), r"\(B, 1, 1, T\)"),
    (
        nb01.check_01_padding_mask,
        (lambda ids, p: (ids == p)[:, None, None, :],),
        "mark the real tokens",
    ),
    (nb01.check_01_split_heads, (_split_by_direct_view, SOL01.merge_heads), "transpose"),
    (nb01.check_01_split_heads, (SOL01.split_heads, _merge_without_transpose), "undo"),
    (nb02.check_02_layer_norm, (_unbiased_layer_norm,), "biased variance"),
    (nb02.check_02_layer_norm, (_layer_norm_without_affine,), "scale by weight"),
    (nb02.check_02_layer_norm, (_layer_norm_over_tokens,), "dim=-1"),
    (nb02.check_02_layer_norm, (_layer_norm_without_eps,), "eps inside the square root"),
    (nb02.check_02_post_ln_sublayer, (lambda x, f, n: x + f(n(x)),), "that is pre-LN"),
    (nb02.check_02_post_ln_sublayer, (lambda x, f, n: n(f(x)),), "keep the residual"),
    (
        nb02.check_02_block_parameter_count,
        (lambda d, ff: 4 * d * d + 2 * d * ff + 5 * d + ff,),
        "two LayerNorms",
    ),
    (
        nb02.check_02_block_parameter_count,
        (lambda d, ff: 4 * d * d + 2 * d * ff + 4 * d,),
        "every Linear has a bias",
    ),
    (nb02.check_02_block_parameter_count, (lambda d, ff: 4.0 * d * d,), "return an int"),
    (
        nb02.check_02_share_layer,
        (lambda layer, n: nn.ModuleList(copy.deepcopy(layer) for _ in range(n)),),
        "deepcopy",
    ),
    (nb02.check_02_share_layer, (lambda layer, n: [layer] * n,), "nn.ModuleList"),
    (nb03.check_03_embed, (lambda ids, tok, pos: tok(ids),), "add the position embeddings"),
    (nb03.check_03_embed, (lambda ids, tok, pos: tok(ids) + pos(ids),), "not the token ids"),
    (nb03.check_03_lm_inputs_targets, (lambda s: (s, s),), r"\(B, T-1\)"),
    (nb03.check_03_lm_inputs_targets, (lambda s: (s[:, 1:], s[:, :-1]),), "swapped"),
    (nb03.check_03_lm_inputs_targets, (lambda s: (s[:, 1:], s[:, 1:]),), "next token"),
    (nb03.check_03_train_step, (_train_step_without_zero_grad,), r"zero_grad\(\) before"),
    (nb03.check_03_train_step, (_train_step_without_step,), "weights did not change"),
    (nb03.check_03_train_step, (_train_step_returning_tensor,), r"loss.item\(\)"),
    (nb03.check_03_save_weights, (_save_directly,), "temporary file first"),
    (nb03.check_03_save_weights, (_save_module_object,), "not the model object"),
    (nb03.check_03_save_weights, (_save_and_leave_temp,), "leftover files"),
]


def test_unknown_solution_names_the_choices():
    with pytest.raises(ValueError, match=r"solution='99_nothing' is not allowed.*01_attention"):
        load_solution("99_nothing")


NOTEBOOKS = [f"{n:02d}" for n in range(1, 12)]


def _my_stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_check_says_not_attempted_for_a_stub_and_nothing_else(notebook, capsys):
    cases = reference_cases(notebook)
    assert cases, f"notebook {notebook} has no checks"
    for check_fn, args in cases:
        check_fn(*[_my_stub] * len(args))
        out = capsys.readouterr().out
        assert out == NOT_ATTEMPTED.format(name="_my_stub") + "\n", (check_fn.__name__, out)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_show_reference_passes_runs_every_check_of_a_notebook(notebook, capsys):
    show_reference_passes(notebook)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(reference_cases(notebook))
    assert all(line.startswith("✓ check_") for line in lines), lines


def test_show_reference_passes_names_the_allowed_notebooks():
    with pytest.raises(ValueError, match="notebook='12' is not allowed"):
        show_reference_passes("12")


def _wrong_answer_tables() -> list[tuple]:
    """Every (check, wrong answer(s), hint) row: ``WRONG`` here and in tests/test_checks_*.py."""
    rows = []
    for path in sorted(Path(__file__).parent.glob("test_checks*.py")):
        if path.name == Path(__file__).name:
            rows += WRONG
            continue
        spec = importlib.util.spec_from_file_location(f"_wrong_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        rows += getattr(module, "WRONG", [])
    return rows


ALL_WRONG = _wrong_answer_tables()


def _row_id(row: tuple) -> str:
    wrong = row[1] if isinstance(row[1], tuple) else (row[1],)
    return f"{row[0].__name__}-{'+'.join(getattr(w, '__name__', '?') for w in wrong)}"


@pytest.mark.parametrize("check_fn, wrong, hint", ALL_WRONG, ids=[_row_id(r) for r in ALL_WRONG])
def test_wrong_answer_gets_its_hint(check_fn, wrong, hint):
    args = wrong if isinstance(wrong, tuple) else (wrong,)  # split_heads takes two functions
    with pytest.raises(AssertionError) as info:
        check_fn(*args)
    message = str(info.value)
    assert hint in message or re.search(hint, message), message


def test_every_check_rejects_at_least_two_plausible_wrong_answers():
    counts = Counter(row[0].__name__ for row in ALL_WRONG)
    every = [fn.__name__ for nb in NOTEBOOKS for fn, _ in reference_cases(nb)]
    few = {name: counts[name] for name in every if counts[name] < 2}
    assert not few, f"checks with fewer than two wrong answers in tests: {few}"
