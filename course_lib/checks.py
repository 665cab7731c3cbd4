"""Self-checks for the exercises: each raises ``AssertionError`` with a hint when wrong.

A small framework (``check``, ``check_close``, ``run``) and one function per exercise,
named by notebook: ``check_01_causal_mask(fn)`` checks the learner's ``fn``. Each check
tries the function on a few inputs, recognises the usual mistakes and names the fix.
On success it prints one line. Reference solutions live in ``solutions/`` at the
repository root (``load_solution("01_attention")``); ``tests/test_checks.py`` shows that
every solution passes and every check rejects a plausible wrong answer with its hint.

Notebooks 01-03 use the checks below; later notebooks add theirs the same way.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

SOLUTIONS_DIR = Path(__file__).resolve().parent.parent / "solutions"


def check(condition: Any, hint: str) -> None:
    """Raise ``AssertionError(hint)`` unless ``condition`` holds."""
    if not condition:
        raise AssertionError(hint)


def check_close(actual: Any, expected: torch.Tensor, hint: str, atol: float = 1e-5) -> None:
    """``actual`` is a tensor of ``expected``'s shape and values (within ``atol``)."""
    check(isinstance(actual, torch.Tensor), f"expected a torch.Tensor, got {type(actual).__name__}")
    check(
        actual.shape == expected.shape,
        f"expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}",
    )
    check(torch.allclose(actual.float(), expected.float(), atol=atol, rtol=1e-4), hint)


def run(fn: Callable, *args: Any) -> Any:
    """Call the learner's ``fn``; an exception becomes an ``AssertionError`` with a hint."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise AssertionError(
            "not written yet: replace `raise NotImplementedError` by your code"
        ) from None
    except Exception as e:  # the learner's bug, reported without a deep traceback
        raise AssertionError(f"your function raised {type(e).__name__}: {e}") from None


def isolated(check_fn: Callable) -> Callable:
    """Run a check under its own seed, leaving the notebook's random state untouched."""

    @functools.wraps(check_fn)
    def wrapper(*args: Any) -> None:
        with torch.random.fork_rng(devices=[]):
            check_fn(*args)

    return wrapper


def passed(name: str, n: int) -> None:
    print(f"✓ {name}: all {n} checks passed")


def load_solution(name: str) -> ModuleType:
    """The reference solutions of one notebook, e.g. ``load_solution("01_attention")``."""
    path = SOLUTIONS_DIR / f"{name}.py"
    if not path.is_file():
        known = sorted(p.stem for p in SOLUTIONS_DIR.glob("*.py"))
        raise ValueError(f"solution={name!r} is not allowed: choose one of {known}")
    spec = importlib.util.spec_from_file_location(f"solutions_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- notebook 01: attention


@isolated
def check_01_attention_weights(fn: Callable) -> None:
    """fn(q, k) -> softmax(q k^T / sqrt(d)) over the keys, shape (..., T_q, T_k)."""
    g = torch.Generator().manual_seed(1)
    for shape in [(5, 16), (2, 3, 7, 8)]:
        q, k = torch.randn(*shape, generator=g) * 2, torch.randn(*shape, generator=g) * 2
        w = run(fn, q, k)
        scores = q @ k.transpose(-2, -1)
        want = torch.softmax(scores / math.sqrt(q.size(-1)), dim=-1)
        check(isinstance(w, torch.Tensor), f"return a tensor, got {type(w).__name__}")
        check(w.shape == want.shape, f"weights have shape (..., T_q, T_k) = {tuple(want.shape)}")
        rows = w.sum(-1)
        check(
            torch.allclose(rows, torch.ones_like(rows), atol=1e-5),
            "each row must sum to 1: apply the softmax over the last dimension (the keys), dim=-1",
        )
        if torch.allclose(w, torch.softmax(scores, dim=-1), atol=1e-5):
            raise AssertionError(
                "scale the scores: divide by sqrt(d), d = q.size(-1), before softmax"
            )
        if torch.allclose(w, torch.softmax(scores / q.size(-1), dim=-1), atol=1e-5):
            raise AssertionError("scale by the square root of d, not by d itself")
        check_close(w, want, "weights = softmax(q @ k.transpose(-2, -1) / sqrt(d), dim=-1)")
    passed("check_01_attention_weights", 2)


@isolated
def check_01_causal_mask(fn: Callable) -> None:
    """fn(t) -> (t, t) bool, True where query i may attend to key j (j <= i)."""
    for t in (1, 4, 7):
        m = run(fn, t)
        check(isinstance(m, torch.Tensor), f"return a tensor, got {type(m).__name__}")
        check(m.shape == (t, t), f"the mask for t={t} has shape ({t}, {t}), got {tuple(m.shape)}")
        check(m.dtype == torch.bool, f"return a boolean tensor (True = may attend), not {m.dtype}")
        want = torch.ones(t, t, dtype=torch.bool).tril()
        check(m.diagonal().all(), "a token may attend to itself: the diagonal must be True")
        if t > 1 and torch.equal(m, want.T):
            raise AssertionError(
                "query i may see keys 0..i (the past): keep the lower triangle (tril), not triu"
            )
        check(torch.equal(m, want), "True on and below the diagonal: torch.ones(t, t).tril()")
    passed("check_01_causal_mask", 3)


@isolated
def check_01_padding_mask(fn: Callable) -> None:
    """fn(ids, pad_id) -> (B, 1, 1, T) bool, True at real (non-padding) keys."""
    ids = torch.tensor([[5, 6, 7, 0, 0], [3, 4, 0, 0, 0], [9, 9, 9, 9, 9]])
    for pad_id in (0, 9):
        m = run(fn, ids, pad_id)
        want = (ids != pad_id)[:, None, None, :]
        check(isinstance(m, torch.Tensor), f"return a tensor, got {type(m).__name__}")
        check(m.dtype == torch.bool, f"return a boolean tensor (True = may attend), not {m.dtype}")
        if m.shape == ids.shape:
            raise AssertionError(
                "return shape (B, 1, 1, T) so it broadcasts over heads and queries: "
                "mask[:, None, None, :]"
            )
        check(m.shape == want.shape, f"expected shape (B, 1, 1, T) = {tuple(want.shape)}")
        if torch.equal(m, ~want):
            raise AssertionError(
                "True must mark the real tokens (ids != pad_id), the keys a query may attend to"
            )
        check(torch.equal(m, want), "mask = (ids != pad_id)[:, None, None, :]")
    passed("check_01_padding_mask", 2)


@isolated
def check_01_split_heads(split_heads: Callable, merge_heads: Callable) -> None:
    """split_heads(x, h): (B, T, d) -> (B, h, T, d/h); merge_heads undoes it."""
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)
    for h in (2, 4):
        y = run(split_heads, x, h)
        want = x.view(2, 3, h, 8 // h).transpose(1, 2)
        check(isinstance(y, torch.Tensor), f"return a tensor, got {type(y).__name__}")
        check(y.shape == want.shape, f"(B, T, d) -> (B, h, T, d/h) = {tuple(want.shape)}")
        check(
            torch.equal(y, want),
            "view as (B, T, h, d/h) first, then swap T and h with .transpose(1, 2); a direct "
            "view to (B, h, T, d/h) mixes different tokens into one head",
        )
        back = run(merge_heads, want)
        check(isinstance(back, torch.Tensor), f"return a tensor, got {type(back).__name__}")
        check(
            back.shape == x.shape and torch.equal(back, x),
            "merge_heads must undo split_heads: .transpose(1, 2) then .reshape(B, T, d)",
        )
    passed("check_01_split_heads", 4)


# ---------------------------------------------------------------- notebook 02: the block


@isolated
def check_02_layer_norm(fn: Callable) -> None:
    """fn(x, weight, bias, eps) equals F.layer_norm over the last dimension."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 5, 8, generator=g) * 3 + 1
    w, b = torch.randn(8, generator=g), torch.randn(8, generator=g)
    out = run(fn, x, w, b, 1e-5)
    want = F.layer_norm(x, (8,), w, b, 1e-5)
    check(isinstance(out, torch.Tensor), f"return a tensor, got {type(out).__name__}")
    check(out.shape == x.shape, f"the output has the input's shape {tuple(x.shape)}")
    mean, var = x.mean(-1, keepdim=True), x.var(-1, keepdim=True, unbiased=True)
    if torch.allclose(out, (x - mean) / torch.sqrt(var + 1e-5) * w + b, atol=1e-4):
        raise AssertionError("use the biased variance (unbiased=False), as nn.LayerNorm does")
    plain = F.layer_norm(x, (8,), None, None, 1e-5)
    if torch.allclose(out, plain, atol=1e-4):
        raise AssertionError("after normalising, scale by weight and add bias: y = x_hat * w + b")
    check_close(
        out, want, "normalise each token: mean and variance over dim=-1 with keepdim=True", 1e-4
    )
    const = torch.full((2, 8), 4.0)
    out = run(fn, const, w, b, 1e-5)
    check(
        torch.isfinite(out).all() and torch.allclose(out, b.expand(2, 8), atol=1e-4),
        "add eps inside the square root: a constant vector has variance 0",
    )
    passed("check_02_layer_norm", 2)


@isolated
def check_02_post_ln_sublayer(fn: Callable) -> None:
    """fn(x, f, norm) -> norm(x + f(x)), the post-LN sublayer of BERT and ALBERT."""
    f, norm = nn.Linear(8, 8), nn.LayerNorm(8)
    nn.init.normal_(norm.weight, 1.0, 0.3)
    x = torch.randn(2, 4, 8) * 2
    with torch.no_grad():
        out = run(fn, x, f, norm)
        check(isinstance(out, torch.Tensor), f"return a tensor, got {type(out).__name__}")
        check(out.shape == x.shape, f"the output has the input's shape {tuple(x.shape)}")
        if torch.allclose(out, x + f(norm(x)), atol=1e-5):
            raise AssertionError(
                "that is pre-LN, x + f(norm(x)); post-LN adds the residual first: norm(x + f(x))"
            )
        if torch.allclose(out, norm(f(x)), atol=1e-5):
            raise AssertionError("keep the residual: add the input x to f(x) before the norm")
        check_close(out, norm(x + f(x)), "post-LN is norm(x + f(x))")
    passed("check_02_post_ln_sublayer", 1)


@isolated
def check_02_block_parameter_count(fn: Callable) -> None:
    """fn(d, d_ff) -> 4d^2 + 2*d*d_ff + 9d + d_ff (biases everywhere, two LayerNorms)."""
    sizes = [(256, 1024), (64, 256), (768, 3072), (10, 7)]
    for d, ff in sizes:
        n = run(fn, d, ff)
        check(isinstance(n, int), f"return an int, got {type(n).__name__}")
        want = 4 * d * d + 2 * d * ff + 9 * d + ff
        if n == want - 4 * d:
            raise AssertionError("add the two LayerNorms: each holds d weights and d biases (+4d)")
        if n == want - 5 * d - ff:
            raise AssertionError("every Linear has a bias: Q, K, V, out (4d), fc1 (d_ff), fc2 (d)")
        check(
            n == want,
            f"for d={d}, d_ff={ff} the block has {want:,} parameters, you gave {n:,}: "
            "attention 4d^2 + 4d, FFN 2*d*d_ff + d_ff + d, two LayerNorms 4d",
        )
    passed("check_02_block_parameter_count", len(sizes))


@isolated
def check_02_share_layer(fn: Callable) -> None:
    """fn(layer, n) -> nn.ModuleList holding the very same ``layer`` object n times."""
    layer = nn.Linear(4, 4)
    for n in (1, 3):
        stack = run(fn, layer, n)
        check(isinstance(stack, nn.ModuleList), "return an nn.ModuleList so PyTorch registers it")
        check(len(stack) == n, f"the list holds n={n} entries, got {len(stack)}")
        check(
            all(m is layer for m in stack),
            "copy.deepcopy (what nn.TransformerEncoder does) makes new tensors: "
            "put the very same module object in the list n times",
        )
        unique = sum(p.numel() for p in stack.parameters())
        check(unique == 20, f"parameters() counts a shared tensor once: 20, got {unique}")
    passed("check_02_share_layer", 2)


# ---------------------------------------------------------------- notebook 03: whole model


@isolated
def check_03_embed(fn: Callable) -> None:
    """fn(ids, tok_emb, pos_emb) -> tok_emb(ids) + pos_emb(arange(T)), shape (B, T, d)."""
    tok, pos = nn.Embedding(10, 6), nn.Embedding(8, 6)
    ids = torch.tensor([[1, 2, 3, 4], [4, 3, 2, 1], [7, 7, 7, 7]])
    with torch.no_grad():
        x = run(fn, ids, tok, pos)
        want = tok(ids) + pos(torch.arange(4))
        check(isinstance(x, torch.Tensor), f"return a tensor, got {type(x).__name__}")
        check(x.shape == want.shape, f"expected shape (B, T, d) = {tuple(want.shape)}")
        if torch.allclose(x, tok(ids)):
            raise AssertionError(
                "add the position embeddings pos_emb(torch.arange(T)): without them the model "
                "cannot tell the order of the tokens"
            )
        if torch.allclose(x, tok(ids) + pos(ids)):
            raise AssertionError("positions are 0..T-1 (torch.arange(T)), not the token ids")
        check_close(x, want, "x = tok_emb(ids) + pos_emb(torch.arange(T))")
    passed("check_03_embed", 1)


@isolated
def check_03_lm_inputs_targets(fn: Callable) -> None:
    """fn(seqs) -> (x, y) with x = seqs[:, :-1] and y = seqs[:, 1:] (next-token targets)."""
    seqs = torch.arange(12).view(2, 6)
    out = run(fn, seqs)
    check(isinstance(out, tuple) and len(out) == 2, "return a pair (inputs, targets)")
    x, y = out
    want_x, want_y = seqs[:, :-1], seqs[:, 1:]
    check(isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor), "return two tensors (x, y)")
    check(x.shape == want_x.shape and y.shape == want_y.shape, "x and y are (B, T-1) each")
    if torch.equal(x, want_y) and torch.equal(y, want_x):
        raise AssertionError("you swapped them: inputs are seqs[:, :-1], targets seqs[:, 1:]")
    check(not torch.equal(x, y), "the target at position t is the next token, seqs[:, t + 1]")
    check(torch.equal(x, want_x) and torch.equal(y, want_y), "x = seqs[:, :-1], y = seqs[:, 1:]")
    passed("check_03_lm_inputs_targets", 1)


@isolated
def check_03_train_step(fn: Callable) -> None:
    """fn(model, x, y, optimizer) -> float: one step of cross-entropy training."""
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    ref = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.5)
    for step in range(2):
        x, y = torch.randn(5, 6), torch.randint(0, 3, (5,))
        before = [p.detach().clone() for p in model.parameters()]
        loss = run(fn, model, x, y, opt)
        ref_loss = F.cross_entropy(ref(x), y)
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_opt.step()
        check(isinstance(loss, float), f"return loss.item(), a float, not {type(loss).__name__}")
        check(abs(loss - ref_loss.item()) < 1e-5, "the loss is F.cross_entropy(model(x), y)")
        params = list(model.parameters())
        check(
            any(not torch.equal(a, b) for a, b in zip(params, before, strict=True)),
            "the weights did not change: call loss.backward(), then optimizer.step()",
        )
        if not all(
            torch.allclose(a, b, atol=1e-6) for a, b in zip(params, ref.parameters(), strict=True)
        ):
            raise AssertionError(
                "call optimizer.zero_grad() before loss.backward(): otherwise the gradients of "
                "the previous step are added to this one"
                if step == 1
                else "one step is: zero_grad(), loss.backward(), optimizer.step()"
            )
    passed("check_03_train_step", 2)


@isolated
def check_03_save_weights(fn: Callable) -> None:
    """fn(model, path) writes model.state_dict() atomically (temp file, then os.replace)."""
    model = nn.Linear(3, 2)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.pt"
        with mock.patch.object(torch, "save", wraps=torch.save) as spy:
            run(fn, model, path)
        check(path.is_file(), f"the file {path.name} was not written")
        targets = [os.fspath(c.args[1]) for c in spy.call_args_list if len(c.args) > 1]
        check(
            os.fspath(path) not in targets,
            "write to a temporary file first, then os.replace(tmp, path): a crash mid-write "
            "must never leave half a checkpoint under the real name",
        )
        try:
            state = torch.load(path, weights_only=True)
        except Exception:
            raise AssertionError(
                "save model.state_dict() (tensors only), not the model object: "
                "torch.load(..., weights_only=True) refuses pickled modules"
            ) from None
        check(
            isinstance(state, dict) and set(state) == {"weight", "bias"}, "save model.state_dict()"
        )
        check(
            torch.equal(state["weight"], model.weight), "the saved weights differ from the model's"
        )
        left = sorted(p.name for p in Path(tmp).iterdir() if p != path)
        check(not left, f"leftover files {left}: os.replace moves the temporary file into place")
    passed("check_03_save_weights", 1)
