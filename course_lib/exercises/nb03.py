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

from course_lib.exercises.compare import check, check_close, check_tensor, check_type, name_mistake
from course_lib.exercises.framework import exercise, if_error_says, passed, run
from course_lib.i18n import _


def _embed_raised(e: Exception) -> str:
    """The likely cause when the learner's embedding raises on ids of shape (B, T) = (3, 4)."""
    if "(3)" in str(e):
        return _(
            "the positions run along T = ids.size(1) = 4, not B = ids.size(0) = 3: "
            "pos_emb(torch.arange(ids.size(1)))"
        )
    if "(8)" in str(e):
        return _(
            "embed only the T = 4 positions of this batch, torch.arange(ids.size(1)), not "
            "all max_len = 8 rows of the table"
        )
    return _(
        "ids is (B, T) = (3, 4): tok_emb(ids) is (B, T, d), pos_emb(torch.arange(T)) is (T, d)"
    )


@exercise
def check_03_embed(fn: Callable) -> None:
    """fn(ids, tok_emb, pos_emb) -> tok_emb(ids) + pos_emb(arange(T)), shape (B, T, d)."""
    tok, pos = nn.Embedding(10, 6), nn.Embedding(8, 6)
    ids = torch.tensor([[1, 2, 3, 4], [4, 3, 2, 1], [7, 7, 7, 7]])
    with torch.no_grad():
        x = run(fn, ids, tok, pos, likely=_embed_raised)
        p = pos(torch.arange(4))
        want = tok(ids) + p
        check_tensor(x)
        if x.shape == (3, 4, 12):
            raise AssertionError(_("add the two embeddings; concatenating doubles the width d"))
        check(
            x.shape == want.shape,
            _("expected shape (B, T, d) = {shape}").format(shape=tuple(want.shape)),
        )
        name_mistake(x, want, [
            (tok(ids),
             _("add the position embeddings pos_emb(torch.arange(T)): without them the model "
               "cannot tell the order of the tokens")),
            (tok(ids) + pos(ids), _("positions are 0..T-1 (torch.arange(T)), not the token ids")),
            (tok(ids) * p, _("add the position embeddings to the token embeddings, not multiply")),
            (tok(ids) + pos(torch.arange(1, 5)),
             _("positions start at 0: torch.arange(T), not 1..T")),
        ])  # fmt: skip
        check_close(x, want, _("add each token's vector and the vector of its position 0 .. T-1"))
    passed("check_03_embed", 1)


@exercise
def check_03_lm_inputs_targets(fn: Callable) -> None:
    """fn(seqs) -> (x, y) with x = seqs[:, :-1] and y = seqs[:, 1:] (next-token targets)."""
    seqs = torch.arange(12).view(2, 6)
    out = run(fn, seqs)
    if isinstance(out, list) and len(out) == 2:
        raise AssertionError(_("return a tuple (x, y), not a list"))
    check(isinstance(out, tuple) and len(out) == 2, _("return a pair (inputs, targets)"))
    x, y = out
    want_x, want_y = seqs[:, :-1], seqs[:, 1:]
    check(
        isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor), _("return two tensors (x, y)")
    )
    if x.shape == (1, 6) or y.shape == (1, 6):
        raise AssertionError(
            _("you sliced the batch dimension: shift along time, seqs[:, :-1] and seqs[:, 1:]")
        )
    if x.shape == seqs.shape and y.shape == want_y.shape:
        raise AssertionError(_("the inputs drop the LAST token: x = seqs[:, :-1], as long as y"))
    if torch.equal(x, seqs[:, :-2]) and torch.equal(y, seqs[:, 2:]):
        raise AssertionError(_("the target is the NEXT token: shift by one, not by two"))
    check(x.shape == want_x.shape and y.shape == want_y.shape, _("x and y are (B, T-1) each"))
    if torch.equal(x, want_y) and torch.equal(y, want_x):
        raise AssertionError(_("you swapped them: inputs are seqs[:, :-1], targets seqs[:, 1:]"))
    check(not torch.equal(x, y), _("the target at position t is the next token, seqs[:, t + 1]"))
    check(
        torch.equal(x, want_x) and torch.equal(y, want_y),
        _("the inputs drop the last token, the targets the first"),
    )
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
        logits = model(x).detach()
        loss = run(
            fn,
            model,
            x,
            y,
            opt,
            likely=if_error_says(
                "Expected floating point",
                "expected scalar type Long",
                "must be",
                "not implemented for 'Long'",
                hint=_(
                    "F.cross_entropy(logits, targets): the logits (B, classes) come first, "
                    "the integer targets (B,) second"
                ),
            ),
        )
        ref_loss = F.cross_entropy(ref(x), y)
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_opt.step()
        if isinstance(loss, torch.Tensor):
            raise AssertionError(
                _("return loss.item(), a Python float, not a tensor")
                if loss.dim() == 0
                else _("return loss.item(), a Python float, not a tensor of shape {shape}").format(
                    shape=tuple(loss.shape)
                )
            )
        check_type(loss, float, _("return loss.item(), a float, not {type}"))
        name_mistake(loss, ref_loss.item(), [
            (F.nll_loss(logits, y).item(),
             _("F.nll_loss expects log-probabilities; use F.cross_entropy(model(x), y) on the logits")),
            (F.cross_entropy(torch.softmax(logits, -1), y).item(),
             _("F.cross_entropy takes the raw logits and applies log_softmax itself: do not "
               "softmax first")),
            (F.mse_loss(logits, F.one_hot(y, 3).float()).item(),
             _("this is classification: the loss is F.cross_entropy(model(x), y), not a squared error")),
        ])  # fmt: skip
        check(abs(loss - ref_loss.item()) < 1e-5, _("the loss is F.cross_entropy(model(x), y)"))
        params = list(model.parameters())
        if all(torch.equal(a, b) for a, b in zip(params, before, strict=True)):
            raise AssertionError(
                _("the weights did not change: call loss.backward(), then optimizer.step()")
                if all(p.grad is None for p in params)
                else _(
                    "the weights did not change, though gradients were computed: call "
                    "optimizer.step() after loss.backward()"
                )
            )
        if not all(
            torch.allclose(a, b, atol=1e-6) for a, b in zip(params, ref.parameters(), strict=True)
        ):
            raise AssertionError(
                _(
                    "call optimizer.zero_grad() before loss.backward(): otherwise the gradients of "
                    "the previous step are added to this one"
                )
                if step == 1
                else _("one step is: zero_grad(), loss.backward(), optimizer.step()")
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
        if not path.is_file():
            others = sorted(p.name for p in Path(tmp).iterdir())
            raise AssertionError(
                _("the file {name} was not written").format(name=path.name)
                + (
                    _(
                        "; you left {others}: finish with os.replace(tmp, path), which moves the "
                        "temporary file to the real name"
                    ).format(others=others)
                    if others
                    else ""
                )
            )
        targets = [os.fspath(c.args[1]) for c in spy.call_args_list if len(c.args) > 1]
        check(
            os.fspath(path) not in targets,
            _(
                "write to a temporary file first, then os.replace(tmp, path): a crash mid-write "
                "must never leave half a checkpoint under the real name"
            ),
        )
        try:
            state = torch.load(path, weights_only=True)
        except Exception:
            raise AssertionError(
                _(
                    "save model.state_dict() (tensors only), not the model object: "
                    "torch.load(..., weights_only=True) refuses pickled modules"
                )
            ) from None
        if isinstance(state, list | tuple):
            raise AssertionError(
                _(
                    "save model.state_dict(), a dict name -> tensor: a list of parameters loses "
                    "the names that load_state_dict needs"
                )
            )
        if (
            isinstance(state, dict)
            and len(state) == 1
            and isinstance(next(iter(state.values())), dict)
        ):
            raise AssertionError(
                _(
                    "save model.state_dict() itself, not wrapped in another dict: "
                    "model.load_state_dict(torch.load(path)) must work as it is"
                )
            )
        check(
            isinstance(state, dict) and set(state) == {"weight", "bias"},
            _("save model.state_dict()"),
        )
        check(
            torch.equal(state["weight"], model.weight),
            _("the saved weights differ from the model's"),
        )
        left = sorted(p.name for p in Path(tmp).iterdir() if p != path)
        check(
            not left,
            _("leftover files {left}: os.replace moves the temporary file into place").format(
                left=left
            ),
        )
    passed("check_03_save_weights", 1)
