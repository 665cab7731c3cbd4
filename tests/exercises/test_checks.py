"""The self-checks of every notebook (course_lib.exercises): each reference solution passes,
a stub gets one "not attempted yet" line, and every wrong answer of ``WRONG`` (here for
notebooks 01-03, in tests/exercises/test_checks_*.py for the others) gets the hint naming its mistake;
every check rejects at least two."""

import copy
import importlib.util
import inspect
import json
import math
import os
import re
from collections import Counter
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.exercises import nb01, nb02, nb03
from course_lib.exercises.framework import (
    NOT_ATTEMPTED,
    load_solution,
    reference_cases,
    show_reference_passes,
)

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


# ---- notebook 01, more mistakes (issue 17)


def _k_dot_t(q, k):
    return torch.softmax(q @ k.T / math.sqrt(q.size(-1)), dim=-1)


def _no_transpose(q, k):
    return torch.softmax(q @ k / math.sqrt(q.size(-1)), dim=-1)


def _no_softmax(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))


def _times_sqrt_d(q, k):
    return torch.softmax(q @ k.transpose(-2, -1) * math.sqrt(q.size(-1)), dim=-1)


def _softmax_dim_1(q, k):
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=1)


def _sqrt_of_tokens(q, k):
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-2)), dim=-1)


def _keys_times_queries(q, k):
    return torch.softmax(k @ q.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)


def _mask_true_is_forbidden(t):
    return torch.ones(t, t, dtype=torch.bool).triu(1)


def _mask_all_true(t):
    return torch.ones(t, t, dtype=torch.bool)


def _additive_mask(t):
    return torch.zeros(t, t).masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))


def _mask_batched(t):
    return torch.ones(t, t, dtype=torch.bool).tril()[None, None]


def _padding_on_queries(ids, pad_id):
    return (ids != pad_id)[:, None, :, None]


def _padding_one_axis(ids, pad_id):
    return (ids != pad_id)[:, None, :]


def _padding_fixed_zero(ids, pad_id):
    return (ids != 0)[:, None, None, :]


def _padding_float(ids, pad_id):
    return (ids != pad_id).float()[:, None, None, :]


def _split_without_transpose(x, h):
    b, t, d = x.shape
    return x.view(b, t, h, d // h)


def _split_features_first(x, h):
    b, t, d = x.shape
    return x.view(b, t, d // h, h).permute(0, 3, 1, 2)


def _merge_by_view(x):
    b, h, t, dh = x.shape
    return x.transpose(1, 2).view(b, t, h * dh)


def _merge_without_reshape(x):
    return x.transpose(1, 2)


# ---- notebook 02, more mistakes (issue 17)


def _ln_parts(x, eps):
    return x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=False)


def _ln_eps_outside_sqrt(x, w, b, eps):
    mean, var = _ln_parts(x, eps)
    return (x - mean) / (torch.sqrt(var) + eps) * w + b


def _ln_fixed_eps(x, w, b, eps):
    return F.layer_norm(x, x.shape[-1:], w, b, 1e-5)


def _ln_no_gamma(x, w, b, eps):
    return F.layer_norm(x, x.shape[-1:], None, None, eps) + b


def _ln_no_beta(x, w, b, eps):
    return F.layer_norm(x, x.shape[-1:], None, None, eps) * w


def _ln_no_keepdim(x, w, b, eps):
    mean, var = x.mean(-1), x.var(-1, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def _ln_no_sqrt(x, w, b, eps):
    mean, var = _ln_parts(x, eps)
    return (x - mean) / (var + eps) * w + b


def _ln_whole_tensor(x, w, b, eps):
    return (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + eps) * w + b


def _post_ln_f_of_norm(x, f, norm):
    return f(norm(x))


def _post_ln_no_norm(x, f, norm):
    return x + f(x)


def _post_ln_norm_f_only(x, f, norm):
    return x + norm(f(x))


def _post_ln_norm_x_only(x, f, norm):
    return norm(x) + f(x)


def _count_one_layernorm(d, ff):
    return 4 * d * d + 2 * d * ff + 7 * d + ff


def _count_three_projections(d, ff):
    return 3 * d * d + 2 * d * ff + 8 * d + ff


def _count_one_ffn_matrix(d, ff):
    return 4 * d * d + d * ff + 9 * d + ff


def _count_fc2_bias_d_ff(d, ff):
    return 4 * d * d + 2 * d * ff + 8 * d + 2 * ff


def _share_as_sequential(layer, n):
    return nn.Sequential(*[layer] * n)


def _share_new_layers(layer, n):
    return nn.ModuleList(nn.Linear(4, 4) for _ in range(n))


def _share_once(layer, n):
    return nn.ModuleList([layer])


def _share_a_shallow_copy(layer, n):
    return nn.ModuleList([copy.copy(layer)] * n)


# ---- notebook 03, more mistakes (issue 17)


def _embed_positions_of_batch(ids, tok, pos):
    return tok(ids) + pos(torch.arange(ids.size(0)))


def _embed_whole_table(ids, tok, pos):
    return tok(ids) + pos.weight


def _embed_concatenated(ids, tok, pos):
    t = ids.size(1)
    return torch.cat([tok(ids), pos(torch.arange(t)).expand(ids.size(0), t, -1)], -1)


def _embed_multiplied(ids, tok, pos):
    return tok(ids) * pos(torch.arange(ids.size(1)))


def _embed_from_one(ids, tok, pos):
    return tok(ids) + pos(torch.arange(1, ids.size(1) + 1))


def _targets_as_list(s):
    return [s[:, :-1], s[:, 1:]]


def _targets_batch_sliced(s):
    return s[:-1], s[1:]


def _targets_full_inputs(s):
    return s, s[:, 1:]


def _targets_shift_two(s):
    return s[:, :-2], s[:, 2:]


def _train_step_no_backward(model, x, y, opt):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    opt.step()
    return loss.item()


def _train_step_before_backward(model, x, y, opt):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    opt.step()
    loss.backward()
    return loss.item()


def _train_step_nll(model, x, y, opt):
    loss = F.nll_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def _train_step_softmax_first(model, x, y, opt):
    loss = F.cross_entropy(torch.softmax(model(x), -1), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def _train_step_arguments_swapped(model, x, y, opt):
    loss = F.cross_entropy(y, model(x))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def _save_parameter_list(model, path):
    tmp = str(path) + ".tmp"
    torch.save(list(model.parameters()), tmp)
    os.replace(tmp, path)


def _save_never_replaced(model, path):
    torch.save(model.state_dict(), str(path) + ".tmp")


def _save_wrapped(model, path):
    tmp = str(path) + ".tmp"
    torch.save({"model": model.state_dict()}, tmp)
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
    (nb01.check_01_attention_weights, (_k_dot_t,), r"k.T reverses all 4 of them"),
    (nb01.check_01_attention_weights, (_no_transpose,), "need the keys transposed"),
    (nb01.check_01_attention_weights, (_no_softmax,), "apply the softmax: those are the scaled"),
    (nb01.check_01_attention_weights, (_times_sqrt_d,), "you multiplied"),
    (nb01.check_01_attention_weights, (_softmax_dim_1,), "give softmax dim=-1 explicitly"),
    (nb01.check_01_attention_weights, (_sqrt_of_tokens,), "not the number of tokens"),
    (nb01.check_01_attention_weights, (_keys_times_queries,), "that is k @ q"),
    (nb01.check_01_causal_mask, (_mask_true_is_forbidden,), "marked the forbidden"),
    (nb01.check_01_causal_mask, (_mask_all_true,), "mask the future"),
    (nb01.check_01_causal_mask, (_additive_mask,), "additive mask"),
    (nb01.check_01_causal_mask, (_mask_batched,), r"has shape \(4, 4\)"),
    (nb01.check_01_padding_mask, (_padding_on_queries,), "the keys are the LAST dimension"),
    (nb01.check_01_padding_mask, (_padding_one_axis,), "add two new dimensions"),
    (nb01.check_01_padding_mask, (_padding_fixed_zero,), "use the pad_id argument"),
    (nb01.check_01_padding_mask, (_padding_float,), "boolean tensor"),
    (nb01.check_01_split_heads, (_split_without_transpose, SOL01.merge_heads), "swap T and h"),
    (
        nb01.check_01_split_heads,
        (_split_features_first, SOL01.merge_heads),
        "head index comes before",
    ),
    (nb01.check_01_split_heads, (SOL01.split_heads, _merge_by_view), "not contiguous"),
    (nb01.check_01_split_heads, (SOL01.split_heads, _merge_without_reshape), "merge_heads returns"),
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
    (nb02.check_02_layer_norm, (_ln_eps_outside_sqrt,), "eps INSIDE the square root"),
    (nb02.check_02_layer_norm, (_ln_fixed_eps,), "use the eps argument"),
    (nb02.check_02_layer_norm, (_ln_no_gamma,), "you forgot the scale"),
    (nb02.check_02_layer_norm, (_ln_no_beta,), "you forgot the shift"),
    (nb02.check_02_layer_norm, (_ln_no_keepdim,), "keepdim=True, so they stay"),
    (nb02.check_02_layer_norm, (_ln_no_sqrt,), "not by the variance"),
    (nb02.check_02_layer_norm, (_ln_whole_tensor,), "not over the whole tensor"),
    (nb02.check_02_post_ln_sublayer, (_post_ln_f_of_norm,), "pre-LN without its residual"),
    (nb02.check_02_post_ln_sublayer, (_post_ln_no_norm,), "apply the norm to the sum"),
    (nb02.check_02_post_ln_sublayer, (_post_ln_norm_f_only,), "not only f"),
    (nb02.check_02_post_ln_sublayer, (_post_ln_norm_x_only,), "add first, then normalise"),
    (nb02.check_02_block_parameter_count, (_count_one_layernorm,), "TWO LayerNorms"),
    (nb02.check_02_block_parameter_count, (_count_three_projections,), "four projections"),
    (nb02.check_02_block_parameter_count, (_count_one_ffn_matrix,), "two matrices"),
    (nb02.check_02_block_parameter_count, (_count_fc2_bias_d_ff,), "fc2 maps d_ff -> d"),
    (nb02.check_02_share_layer, (_share_as_sequential,), "not an nn.Sequential"),
    (nb02.check_02_share_layer, (_share_new_layers,), "you built new layers"),
    (nb02.check_02_share_layer, (_share_once,), "the list holds n=3 entries"),
    (nb02.check_02_share_layer, (_share_a_shallow_copy,), "copy.copy makes a new module"),
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
    (nb03.check_03_embed, (_embed_positions_of_batch,), "not B = ids.size"),
    (nb03.check_03_embed, (_embed_whole_table,), "not all max_len = 8 rows"),
    (nb03.check_03_embed, (_embed_concatenated,), "concatenating doubles"),
    (nb03.check_03_embed, (_embed_multiplied,), "not multiply"),
    (nb03.check_03_embed, (_embed_from_one,), "positions start at 0"),
    (nb03.check_03_lm_inputs_targets, (_targets_as_list,), "not a list"),
    (nb03.check_03_lm_inputs_targets, (_targets_batch_sliced,), "sliced the batch dimension"),
    (nb03.check_03_lm_inputs_targets, (_targets_full_inputs,), "drop the LAST token"),
    (nb03.check_03_lm_inputs_targets, (_targets_shift_two,), "not by two"),
    (nb03.check_03_train_step, (_train_step_no_backward,), r"call loss.backward\(\), then"),
    (nb03.check_03_train_step, (_train_step_before_backward,), "though gradients were computed"),
    (nb03.check_03_train_step, (_train_step_nll,), "nll_loss expects log-probabilities"),
    (nb03.check_03_train_step, (_train_step_softmax_first,), "do not softmax first"),
    (nb03.check_03_train_step, (_train_step_arguments_swapped,), "the logits .* come first"),
    (nb03.check_03_save_weights, (_save_parameter_list,), "a list of parameters loses"),
    (nb03.check_03_save_weights, (_save_never_replaced,), r"finish with os.replace"),
    (nb03.check_03_save_weights, (_save_wrapped,), "not wrapped"),
]


def test_unknown_solution_names_the_choices():
    with pytest.raises(ValueError, match=r"solution='99_nothing' is not allowed.*01_attention"):
        load_solution("99_nothing")


SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"
NOTEBOOKS = sorted({p.name[:2] for p in SOLUTIONS.glob("[0-9][0-9]_*.py")})  # one per file


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
    with pytest.raises(ValueError, match="notebook='99' is not allowed"):
        show_reference_passes("99")


def _wrong_answer_tables() -> list[tuple]:
    """Every (check, wrong answer(s), hint) row: ``WRONG`` here and in tests/exercises/test_checks_*.py."""
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


def _core_checks() -> set[str]:
    """The checks that a ``# exercise (core)`` cell of a notebook runs."""
    core = set()
    for path in sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and source.startswith("# exercise (core)"):
                core.update(re.findall(r"\b(check_\d\d_\w+)\(", source))
    return core


def test_every_check_rejects_at_least_two_plausible_wrong_answers():
    counts = Counter(row[0].__name__ for row in ALL_WRONG)
    every = [fn.__name__ for nb in NOTEBOOKS for fn, _ in reference_cases(nb)]
    few = {name: counts[name] for name in every if counts[name] < 2}
    assert not few, f"checks with fewer than two wrong answers in tests: {few}"


def test_every_core_check_names_at_least_five_distinct_mistakes():
    """Issue 17: each core exercise rejects >= 5 plausible wrong answers, each with its own hint."""
    core = _core_checks()
    assert len(core) >= 40, sorted(core)  # the notebooks' core exercises were found
    hints: dict[str, set[str]] = {}
    for check_fn, _, hint in ALL_WRONG:
        hints.setdefault(check_fn.__name__, set()).add(hint)
    few = {name: len(hints.get(name, ())) for name in sorted(core) if len(hints.get(name, ())) < 5}
    assert not few, f"core checks with fewer than five distinct wrong answers in tests: {few}"


def test_a_raising_answer_gets_the_shapes_it_was_called_with():
    with pytest.raises(AssertionError) as info:
        nb01.check_01_attention_weights(_crashes)
    assert "called with argument 1 = a float32 tensor of shape (5, 16), argument 2" in str(
        info.value
    )


def _returns_none(*args):
    return None


def _answer_lines(fn) -> list[str]:
    """The reference's `return ...` expressions, as a learner would type them."""
    source = inspect.getsource(fn)
    lines = [line.strip().removeprefix("return ").split("  #")[0] for line in source.splitlines()]
    return [line for line in lines if len(line) > 15 and not line.startswith(('"', "def "))]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_no_hint_hands_out_the_reference_code(notebook, capsys):
    """A blank answer (returns None) gets a hint (an AssertionError, never another error),
    and never a line of the reference solution."""
    for check_fn, reference in reference_cases(notebook):
        try:
            check_fn(*[_returns_none] * len(reference))
        except AssertionError as e:
            message = str(e).replace(" ", "")
        else:
            message = capsys.readouterr().out.replace(" ", "")
        for fn in reference:
            leaked = [a for a in _answer_lines(fn) if a.replace(" ", "") in message]
            assert not leaked, (check_fn.__name__, leaked)
