"""Every reference solution passes its self-check; every check rejects a plausible wrong
answer with the hint that names the mistake (notebooks 01-03)."""

import copy
import math
import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import checks
from course_lib.checks import load_solution

SOL01 = load_solution("01_attention")
SOL02 = load_solution("02_block")
SOL03 = load_solution("03_model")

SOLVED = [
    (checks.check_01_attention_weights, (SOL01.attention_weights,)),
    (checks.check_01_causal_mask, (SOL01.causal_mask,)),
    (checks.check_01_padding_mask, (SOL01.padding_mask,)),
    (checks.check_01_split_heads, (SOL01.split_heads, SOL01.merge_heads)),
    (checks.check_02_layer_norm, (SOL02.layer_norm,)),
    (checks.check_02_post_ln_sublayer, (SOL02.post_ln_sublayer,)),
    (checks.check_02_block_parameter_count, (SOL02.block_parameter_count,)),
    (checks.check_02_share_layer, (SOL02.share_layer,)),
    (checks.check_03_embed, (SOL03.embed,)),
    (checks.check_03_lm_inputs_targets, (SOL03.lm_inputs_targets,)),
    (checks.check_03_train_step, (SOL03.train_step,)),
    (checks.check_03_save_weights, (SOL03.save_weights,)),
]


@pytest.mark.parametrize("check_fn, args", SOLVED, ids=[c.__name__ for c, _ in SOLVED])
def test_reference_solution_passes(check_fn, args, capsys):
    check_fn(*args)
    assert capsys.readouterr().out.startswith(f"✓ {check_fn.__name__}: all ")


def test_checks_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.check_03_train_step(SOL03.train_step)
    assert torch.equal(torch.rand(3), expected)


def _not_written(*args):
    raise NotImplementedError


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
    (checks.check_01_attention_weights, (_not_written,), "not written yet"),
    (checks.check_01_attention_weights, (_crashes,), "raised RuntimeError: shape mismatch"),
    (checks.check_01_attention_weights, (_unscaled,), r"divide by sqrt\(d\)"),
    (checks.check_01_attention_weights, (_scaled_by_d,), "square root of d, not by d"),
    (checks.check_01_attention_weights, (_softmax_over_queries,), "last dimension"),
    (checks.check_01_causal_mask, (lambda t: torch.ones(t, t, dtype=torch.bool).triu(),), "tril"),
    (
        checks.check_01_causal_mask,
        (lambda t: torch.ones(t, t, dtype=torch.bool).tril(-1),),
        "diagonal must be True",
    ),
    (checks.check_01_causal_mask, (lambda t: torch.ones(t, t).tril(),), "boolean"),
    (checks.check_01_padding_mask, (lambda ids, p: ids != p,), r"\(B, 1, 1, T\)"),
    (
        checks.check_01_padding_mask,
        (lambda ids, p: (ids == p)[:, None, None, :],),
        "mark the real tokens",
    ),
    (checks.check_01_split_heads, (_split_by_direct_view, SOL01.merge_heads), "transpose"),
    (checks.check_01_split_heads, (SOL01.split_heads, _merge_without_transpose), "undo"),
    (checks.check_02_layer_norm, (_unbiased_layer_norm,), "biased variance"),
    (checks.check_02_layer_norm, (_layer_norm_without_affine,), "scale by weight"),
    (checks.check_02_layer_norm, (_layer_norm_over_tokens,), "dim=-1"),
    (checks.check_02_layer_norm, (_layer_norm_without_eps,), "eps inside the square root"),
    (checks.check_02_post_ln_sublayer, (lambda x, f, n: x + f(n(x)),), "that is pre-LN"),
    (checks.check_02_post_ln_sublayer, (lambda x, f, n: n(f(x)),), "keep the residual"),
    (
        checks.check_02_block_parameter_count,
        (lambda d, ff: 4 * d * d + 2 * d * ff + 5 * d + ff,),
        "two LayerNorms",
    ),
    (
        checks.check_02_block_parameter_count,
        (lambda d, ff: 4 * d * d + 2 * d * ff + 4 * d,),
        "every Linear has a bias",
    ),
    (checks.check_02_block_parameter_count, (lambda d, ff: 4.0 * d * d,), "return an int"),
    (
        checks.check_02_share_layer,
        (lambda layer, n: nn.ModuleList(copy.deepcopy(layer) for _ in range(n)),),
        "deepcopy",
    ),
    (checks.check_02_share_layer, (lambda layer, n: [layer] * n,), "nn.ModuleList"),
    (checks.check_03_embed, (lambda ids, tok, pos: tok(ids),), "add the position embeddings"),
    (checks.check_03_embed, (lambda ids, tok, pos: tok(ids) + pos(ids),), "not the token ids"),
    (checks.check_03_lm_inputs_targets, (lambda s: (s, s),), r"\(B, T-1\)"),
    (checks.check_03_lm_inputs_targets, (lambda s: (s[:, 1:], s[:, :-1]),), "swapped"),
    (checks.check_03_lm_inputs_targets, (lambda s: (s[:, 1:], s[:, 1:]),), "next token"),
    (checks.check_03_train_step, (_train_step_without_zero_grad,), r"zero_grad\(\) before"),
    (checks.check_03_train_step, (_train_step_without_step,), "weights did not change"),
    (checks.check_03_train_step, (_train_step_returning_tensor,), r"loss.item\(\)"),
    (checks.check_03_save_weights, (_save_directly,), "temporary file first"),
    (checks.check_03_save_weights, (_save_module_object,), "not the model object"),
    (checks.check_03_save_weights, (_save_and_leave_temp,), "leftover files"),
]


@pytest.mark.parametrize(
    "check_fn, args, hint", WRONG, ids=[f"{c.__name__}-{h[:20]}" for c, _, h in WRONG]
)
def test_wrong_answer_gets_its_hint(check_fn, args, hint):
    with pytest.raises(AssertionError, match=hint):
        check_fn(*args)


def test_unknown_solution_names_the_choices():
    with pytest.raises(ValueError, match=r"solution='99_nothing' is not allowed.*01_attention"):
        load_solution("99_nothing")
