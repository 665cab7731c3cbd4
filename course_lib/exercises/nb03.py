"""Self-checks of notebook 03 (a whole model): embeddings, LM inputs and targets, a training step, saving.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/03_model.py``.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

from .framework import check, check_close, exercise, passed, run


@exercise
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


@exercise
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


@exercise
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


@exercise
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
