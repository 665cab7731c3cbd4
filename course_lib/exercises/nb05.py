"""Self-checks of notebook 05 (sharing strategies): ALBERT, block maps, repetition, UT, sandwich, LoRA.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/05_sharing_strategies.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch
from torch import nn

from course_lib.config import BLOCK_STRATEGIES
from course_lib.exercises.compare import check, check_close, check_type, name_mistake
from course_lib.exercises.framework import exercise, passed, run
from course_lib.i18n import N_, _
from course_lib.nn.layers import attention_parameter_count, ffn_parameter_count
from course_lib.nn.sharing import block_index
from course_lib.nn.variants import sandwich_plan


@exercise
def check_05_albert_stack_params(fn: Callable) -> None:
    """fn(strategy, d, d_ff, n_layers) -> unique block parameters under ALBERT's strategies."""
    d, ff, n = 256, 1024, 12
    attn, ffn = attention_parameter_count(d), ffn_parameter_count(d, ff)
    want = {"none": n * (attn + ffn), "all": attn + ffn, "attention": attn + n * ffn,
            "ffn": n * attn + ffn}  # fmt: skip
    for strategy, expected in want.items():
        got = run(fn, strategy, d, ff, n)
        if isinstance(got, float) and got == int(got):
            raise AssertionError(
                _(
                    "{strategy}: return an int, not the float {got}: count with integers (//, not "
                    "/)"
                ).format(strategy=strategy, got=got)
            )
        check_type(got, int, _("return an int, got {type}"))
        if (
            strategy in ("attention", "ffn")
            and got == want["ffn" if strategy == "attention" else "attention"]
        ):
            raise AssertionError(
                _(
                    "'{strategy}' shares the {strategy} sublayer (one copy) and keeps N of the "
                    "other"
                ).format(strategy=strategy)
            )
        other = "FFN" if strategy == "attention" else "attention"
        if strategy in ("attention", "ffn") and got in (
            attn + ffn,
            {"attention": attn, "ffn": ffn}[strategy],
        ):
            raise AssertionError(
                _(
                    "'{strategy}' shares only the {strategy} sublayer: each of the N = {n} layers "
                    "keeps its own {other} sublayer, N x its count"
                ).format(strategy=strategy, n=n, other=other)
            )
        if strategy == "none" and got == attn + ffn:
            raise AssertionError(
                _("'none' shares nothing: it stores N = {n} whole blocks").format(n=n)
            )
        norms = (n if strategy in ("none", "ffn") else 1) + (
            n if strategy in ("none", "attention") else 1
        )
        if got == expected - 2 * d * norms:
            raise AssertionError(
                _(
                    "{strategy}: expected {expected:,}, got {got:,}: you left out the LayerNorms "
                    "({missing:,} parameters here). Each sublayer has its own LayerNorm (weight "
                    "and bias, 2d), shared along with it: attention 4d^2 + 6d, FFN 2*d*d_ff + "
                    "d_ff + 3d"
                ).format(strategy=strategy, expected=expected, got=got, missing=expected - got)
            )
        check(
            got == expected,
            _("{strategy}: expected {expected:,}, got {got:,}").format(
                strategy=strategy, expected=expected, got=got
            ),
        )
    passed("check_05_albert_stack_params", 4)


CYCLE_REV_RULE = N_(
    "CYCLE-REV: the first ceil(N/M) - 1 rounds run 0 .. M-1 as in CYCLE; the last round "
    "holds the remaining layers (all M of them when M divides N, fewer otherwise) and "
    "counts down from M-1: M-1, M-2, ... until the layers run out"
)


@exercise
def check_05_block_map(fn: Callable) -> None:
    """fn(strategy, n_layers, n_blocks) -> list of block ids, Takase & Kiyono's orders."""
    cases = [(s, n, m) for s in BLOCK_STRATEGIES for n, m in ((12, 3), (6, 4), (7, 2))]
    for s, n, m in cases:
        ids = run(fn, s, n, m)
        want = [block_index(s, i, n, m) for i in range(n)]
        check(
            isinstance(ids, list | tuple),
            (_("return a list, got {type}: wrap it in list(...)") if hasattr(ids, "__iter__")
             else _("return a list, got {type}")).format(type=type(ids).__name__),
        )  # fmt: skip
        ids = list(ids)
        check(len(ids) == n, _("one id per layer: {n} ids, got {got}").format(n=n, got=len(ids)))
        if ids == [b + 1 for b in want]:
            raise AssertionError(_("block ids start at 0: blocks 0 .. M-1, not 1 .. M"))
        if any(not isinstance(b, int) or not 0 <= b < m for b in ids):
            raise AssertionError(
                _(
                    "{s} with N={n}, M={m}: every id names one of the M blocks, 0 .. {last}; got "
                    "{ids}"
                ).format(s=s, n=n, m=m, last=m - 1, ids=ids)
                + (_("; SEQUENCE gives block i*M // N to layer i") if s == "sequence" else "")
            )
        if s == "cycle_rev" and ids == [m - 1 - i % m for i in range(n)]:
            raise AssertionError(
                _("only the LAST round runs in reverse; the earlier rounds are 0..M-1")
            )
        if s == "cycle_rev" and n % m:
            last = n - (n // m) * m  # layers in the partial last round
            ends_on_zero = [i % m for i in range(n - last)] + list(range(last - 1, -1, -1))
            last_m = [i % m for i in range(n - m)] + list(range(m - 1, -1, -1))
            if ids in (ends_on_zero, last_m):
                raise AssertionError(
                    _(
                        "N={n} is not a multiple of M={m}, so the last round is partial. {rule}"
                    ).format(n=n, m=m, rule=_(CYCLE_REV_RULE))
                )
        if s == "cycle_rev" and ids == [i % m for i in range(n)]:
            raise AssertionError(_("that is CYCLE; CYCLE-REV runs its last round in reverse"))
        if s == "sequence" and ids == [i % m for i in range(n)]:
            raise AssertionError(
                _("that is CYCLE; SEQUENCE uses each block for consecutive layers")
            )
        if s == "cycle" and ids == [block_index("sequence", i, n, m) for i in range(n)]:
            raise AssertionError(
                _("that is SEQUENCE; CYCLE runs the blocks in turn, 0, 1, .., M-1, 0, 1, ..")
            )
        check(
            ids == want,
            (
                _("{s} with N={n}, M={m}: expected {want}, got {ids}. {rule}")
                if s == "cycle_rev"
                else _("{s} with N={n}, M={m}: expected {want}, got {ids}")
            ).format(s=s, n=n, m=m, want=want, ids=ids, rule=_(CYCLE_REV_RULE)),
        )
    passed("check_05_block_map", len(cases))


@exercise
def check_05_repeat_plan(fn: Callable) -> None:
    """fn(n_blocks, repeats) -> block ids with each block repeated in a row (MobileLLM)."""
    for m, r in ((6, 2), (3, 3), (4, 1)):
        ids = run(fn, m, r)
        check(
            hasattr(ids, "__iter__"),
            _("return a list of ids, got {type}").format(type=type(ids).__name__),
        )
        ids = list(ids)
        if ids and isinstance(ids[0], list | tuple):
            raise AssertionError(_("return one flat list of M x repeats ids, not a list of lists"))
        want = [block_index("sequence", i, m * r, m) for i in range(m * r)]
        if r > 1 and ids == [i % m for i in range(m * r)]:
            raise AssertionError(_("that is CYCLE (0, 1, 2, 0, 1, 2); repeat each block in a row"))
        if r > 1 and ids == list(range(m * r)):
            raise AssertionError(
                _(
                    "that is no sharing: N = {n_layers} layers but only M = {m} blocks, each used "
                    "by {r} layers in a row"
                ).format(n_layers=m * r, m=m, r=r)
            )
        if r > 1 and len(ids) == m:
            raise AssertionError(
                _("one id per layer: M x repeats = {n_layers} ids, got {got}").format(
                    n_layers=m * r, got=len(ids)
                )
            )
        if ids == [b + 1 for b in want]:
            raise AssertionError(_("block ids start at 0: blocks 0 .. M-1"))
        if r > 1 and m != r and ids == [i // m for i in range(m * r)]:
            raise AssertionError(
                _(
                    "swapped roles: each of the M = n_blocks blocks runs `repeats` times, "
                    "block i // repeats at layer i"
                )
            )
        check(
            ids == want,
            _("M={m}, {r} repeats: expected {want}, got {ids}").format(
                m=m, r=r, want=want, ids=ids
            ),
        )
    passed("check_05_repeat_plan", 3)


@exercise
def check_05_ut_forward(fn: Callable) -> None:
    """fn(block, x, step_emb) -> x after N steps of x = block(x + step_emb[t])."""
    block = nn.Sequential(nn.Linear(6, 6), nn.Tanh())
    x, steps = torch.randn(2, 3, 6), torch.randn(4, 6)
    with torch.no_grad():
        y = run(fn, block, x, steps)
        want, no_steps, first_only, after, residual = x, x, x + steps[0], x, x
        backwards = x
        for t in range(4):
            backwards = block(backwards + steps[3 - t])
            want = block(want + steps[t])
            no_steps = block(no_steps)
            first_only = block(first_only)
            after = block(after) + steps[t]
            residual = residual + block(residual + steps[t])
        check(
            isinstance(y, torch.Tensor) and y.shape == x.shape, _("return a tensor shaped like x")
        )
        name_mistake(y, want, [
            (no_steps, _("add step_emb[t] before each step: that tells the block which step it is")),
            (block(x + steps[0]), _("apply the block N = step_emb.size(0) times, not once")),
            (first_only,
             _("add a step's own embedding before EVERY step: step_emb[t] at step t, not only "
               "step_emb[0] at the start")),
            (after, _("add step_emb[t] BEFORE the block at step t: x = block(x + step_emb[t])")),
            (residual,
             _("the block is the whole layer, residuals inside it: x = block(x + step_emb[t]), "
               "no extra x + ...")),
            (backwards, _("step t adds step_emb[t]: the steps run in order, 0 first")),
        ])  # fmt: skip
        check_close(y, want, _("N steps; step t adds step_emb[t] to x, then applies the block"))
    passed("check_05_ut_forward", 1)


@exercise
def check_05_sandwich_ids(fn: Callable) -> None:
    """fn(n_layers) -> [0, 1, ..., 1, 2]: own first and last layer, shared middle."""
    for n in (6, 3, 12):
        ids = run(fn, n)
        check_type(ids, list | tuple, _("return a list of ids, got {type}"))
        ids = list(ids)
        want = list(sandwich_plan(n).attn_ids)
        check(len(ids) == n, _("one id per layer: {n} ids, got {got}").format(n=n, got=len(ids)))
        if ids == [b + 1 for b in want]:
            raise AssertionError(_("block ids start at 0: the three blocks are 0, 1 and 2"))
        if n > 3 and len(set(ids)) == n:
            raise AssertionError(
                _(
                    "share the middle: layers 1 .. N-2 all use ONE block (id 1); only the first "
                    "and the last layer own theirs"
                )
            )
        if n > 2 and ids[0] == ids[-1]:
            raise AssertionError(
                _("the first and the last layer each keep their OWN weights: three blocks, 0 ... 2")
            )
        if ids[-1] == ids[-2]:
            raise AssertionError(_("the LAST layer keeps its own weights too (a third block)"))
        if ids[0] == ids[1]:
            raise AssertionError(_("the FIRST layer keeps its own weights too (block 0)"))
        check(ids == want, _("N={n}: expected {want}, got {ids}").format(n=n, want=want, ids=ids))
    passed("check_05_sandwich_ids", 3)


@exercise
def check_05_lora_linear(fn: Callable) -> None:
    """fn(x, weight, bias, A, B) -> x @ (weight + B @ A)^T + bias."""
    w, b = torch.randn(5, 4), torch.randn(5)
    a, bb = torch.randn(2, 4), torch.randn(5, 2)
    x = torch.randn(3, 4)
    y = run(
        fn,
        x,
        w,
        b,
        a,
        bb,
        likely=_(
            "weight is (out, in) = (5, 4), A is (r, in) = (2, 4), B is (out, r) = (5, 2): "
            "the delta B @ A has weight's shape (5, 4) (A.T @ B.T is its transpose, (4, 5); "
            "A @ B does not fit), and x, (3, 4), multiplies the transposed weight, (4, 5)"
        ),
    )
    want = x @ (w + bb @ a).T + b
    check(
        isinstance(y, torch.Tensor) and y.shape == want.shape,
        _("expected shape {shape}").format(shape=tuple(want.shape)),
    )
    name_mistake(y, want, [
        (x @ w.T + b, _("add the layer's low-rank delta B @ A to the shared weight")),
        (x @ (w + bb @ a).T, _("keep the shared bias: + bias")),
        (x @ (bb @ a).T + b, _("keep the shared weight: the layer uses weight + B @ A, not B @ A alone")),
        (x @ (w - bb @ a).T + b, _("ADD the delta to the shared weight: weight + B @ A")),
        (x @ (w + bb @ a).T + 2 * b, _("add the bias once")),
    ], atol=1e-4)  # fmt: skip
    check_close(
        y, want, _("a linear layer whose weight is the shared weight plus B @ A"), atol=1e-4
    )
    passed("check_05_lora_linear", 1)


@exercise
def check_05_add_saving(fn: Callable) -> None:
    """fn(table) -> the table with a column ``saving`` = 1 - unique / per_use."""
    table = pd.DataFrame(
        {"unique": [100, 25, 60], "per_use": [100, 100, 120]}, index=["a", "b", "c"]
    )
    out = run(fn, table.copy())
    if out is None:
        raise AssertionError(
            _(
                "return the table: your function returned None (table.assign(...) returns a new "
                "table, and a function that changes its argument must still `return` it)"
            )
        )
    if isinstance(out, pd.Series):
        raise AssertionError(_("return the whole table with the new column, not the column alone"))
    check_type(out, pd.DataFrame, _("return a DataFrame, got {type}"))
    check(
        "saving" in out.columns,
        _("add a column named 'saving'; the columns are {columns}").format(
            columns=list(out.columns)
        ),
    )
    check(
        list(out.columns[:2]) == ["unique", "per_use"] and len(out) == 3,
        _("keep the table's rows and columns and add 'saving'"),
    )
    got = out["saving"].round(6).tolist()
    mistakes = {
        (0.0, 75.0, 50.0): _("saving is a fraction in [0, 1], not a percentage"),
        (1.0, 0.25, 0.5): _("that is unique / per_use, the share kept; saving is 1 minus it"),
        (0.0, -3.0, -1.0): _(
            "upside down: saving = 1 - unique / per_use, not 1 - per_use / unique"
        ),
        (
            0.0,
            75.0,
            60.0,
        ): _("saving is a share of per_use, 1 - unique / per_use, not the count saved"),
    }
    if tuple(got) in mistakes:
        raise AssertionError(mistakes[tuple(got)])
    check(
        got == [0.0, 0.75, 0.5],
        _("saving = 1 - unique / per_use: expected [0.0, 0.75, 0.5], got {got}").format(got=got),
    )
    passed("check_05_add_saving", 1)
