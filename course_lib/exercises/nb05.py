"""Self-checks of notebook 05 (sharing strategies): ALBERT, block maps, repetition, UT, sandwich, LoRA.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/05_sharing_strategies.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch
from torch import nn

from ..layers import attention_parameter_count, ffn_parameter_count
from ..sharing import block_index
from ..variants import sandwich_plan
from .framework import check, check_close, exercise, passed, run


@exercise
def check_05_albert_stack_params(fn: Callable) -> None:
    """fn(strategy, d, d_ff, n_layers) -> unique block parameters under ALBERT's strategies."""
    d, ff, n = 256, 1024, 12
    attn, ffn = attention_parameter_count(d), ffn_parameter_count(d, ff)
    want = {"none": n * (attn + ffn), "all": attn + ffn, "attention": attn + n * ffn,
            "ffn": n * attn + ffn}  # fmt: skip
    for strategy, expected in want.items():
        got = run(fn, strategy, d, ff, n)
        check(isinstance(got, int), f"return an int, got {type(got).__name__}")
        if (
            strategy in ("attention", "ffn")
            and got == want["ffn" if strategy == "attention" else "attention"]
        ):
            raise AssertionError(
                f"'{strategy}' shares the {strategy} sublayer (one copy) and keeps N of the other"
            )
        norms = (n if strategy in ("none", "ffn") else 1) + (
            n if strategy in ("none", "attention") else 1
        )
        if got == expected - 2 * d * norms:
            raise AssertionError(
                f"{strategy}: expected {expected:,}, got {got:,}: you left out the LayerNorms "
                f"({expected - got:,} parameters here). Each sublayer has its own LayerNorm "
                "(weight and bias, 2d), shared along with it: attention 4d^2 + 6d, FFN "
                "2*d*d_ff + d_ff + 3d"
            )
        check(got == expected, f"{strategy}: expected {expected:,}, got {got:,}")
    passed("check_05_albert_stack_params", 4)


@exercise
def check_05_block_map(fn: Callable) -> None:
    """fn(strategy, n_layers, n_blocks) -> list of block ids, Takase & Kiyono's orders."""
    cases = [
        (s, n, m) for s in ("sequence", "cycle", "cycle_rev") for n, m in ((12, 3), (6, 4), (7, 2))
    ]
    for s, n, m in cases:
        ids = run(fn, s, n, m)
        want = [block_index(s, i, n, m) for i in range(n)]
        check(isinstance(ids, list | tuple), f"return a list, got {type(ids).__name__}")
        ids = list(ids)
        check(len(ids) == n, f"one id per layer: {n} ids, got {len(ids)}")
        if s == "cycle_rev" and ids == [m - 1 - i % m for i in range(n)]:
            raise AssertionError(
                "only the LAST round runs in reverse; the earlier rounds are 0..M-1"
            )
        if s == "sequence" and ids == [i % m for i in range(n)]:
            raise AssertionError("that is CYCLE; SEQUENCE uses each block for consecutive layers")
        check(ids == want, f"{s} with N={n}, M={m}: expected {want}, got {ids}")
    passed("check_05_block_map", len(cases))


@exercise
def check_05_repeat_plan(fn: Callable) -> None:
    """fn(n_blocks, repeats) -> block ids with each block repeated in a row (MobileLLM)."""
    for m, r in ((6, 2), (3, 3), (4, 1)):
        ids = list(run(fn, m, r))
        want = [block_index("sequence", i, m * r, m) for i in range(m * r)]
        if r > 1 and ids == [i % m for i in range(m * r)]:
            raise AssertionError("that is CYCLE (0, 1, 2, 0, 1, 2); repeat each block in a row")
        if r > 1 and ids == list(range(m * r)):
            raise AssertionError(
                f"that is no sharing: N = {m * r} layers but only M = {m} blocks, "
                f"each used by {r} layers in a row"
            )
        check(ids == want, f"M={m}, {r} repeats: expected {want}, got {ids}")
    passed("check_05_repeat_plan", 3)


@exercise
def check_05_ut_forward(fn: Callable) -> None:
    """fn(block, x, step_emb) -> x after N steps of x = block(x + step_emb[t])."""
    block = nn.Sequential(nn.Linear(6, 6), nn.Tanh())
    x, steps = torch.randn(2, 3, 6), torch.randn(4, 6)
    with torch.no_grad():
        y = run(fn, block, x, steps)
        want = x
        for t in range(4):
            want = block(want + steps[t])
        no_steps = x
        for _ in range(4):
            no_steps = block(no_steps)
        check(isinstance(y, torch.Tensor) and y.shape == x.shape, "return a tensor shaped like x")
        if torch.allclose(y, no_steps, atol=1e-5):
            raise AssertionError(
                "add step_emb[t] before each step: that tells the block which step it is"
            )
        if torch.allclose(y, block(x + steps[0]), atol=1e-5):
            raise AssertionError("apply the block N = step_emb.size(0) times, not once")
        check_close(y, want, "for t in range(N): x = block(x + step_emb[t])")
    passed("check_05_ut_forward", 1)


@exercise
def check_05_sandwich_ids(fn: Callable) -> None:
    """fn(n_layers) -> [0, 1, ..., 1, 2]: own first and last layer, shared middle."""
    for n in (3, 6, 12):
        ids = list(run(fn, n))
        want = list(sandwich_plan(n).attn_ids)
        check(len(ids) == n, f"one id per layer: {n} ids, got {len(ids)}")
        if n > 2 and ids[0] == ids[-1]:
            raise AssertionError(
                "the first and the last layer each keep their OWN weights: three blocks, 0 ... 2"
            )
        if ids[-1] == ids[-2]:
            raise AssertionError("the LAST layer keeps its own weights too (a third block)")
        check(ids == want, f"N={n}: expected {want}, got {ids}")
    passed("check_05_sandwich_ids", 3)


@exercise
def check_05_lora_linear(fn: Callable) -> None:
    """fn(x, weight, bias, A, B) -> x @ (weight + B @ A)^T + bias."""
    w, b = torch.randn(5, 4), torch.randn(5)
    a, bb = torch.randn(2, 4), torch.randn(5, 2)
    x = torch.randn(3, 4)
    y = run(fn, x, w, b, a, bb)
    want = x @ (w + bb @ a).T + b
    check(
        isinstance(y, torch.Tensor) and y.shape == want.shape, f"expected shape {tuple(want.shape)}"
    )
    if torch.allclose(y, x @ w.T + b, atol=1e-5):
        raise AssertionError("add the layer's low-rank delta B @ A to the shared weight")
    if torch.allclose(y, x @ (w + bb @ a).T, atol=1e-5):
        raise AssertionError("keep the shared bias: + bias")
    check_close(y, want, "y = x @ (weight + B @ A).T + bias", atol=1e-4)
    passed("check_05_lora_linear", 1)


@exercise
def check_05_add_saving(fn: Callable) -> None:
    """fn(table) -> the table with a column ``saving`` = 1 - unique / per_use."""
    table = pd.DataFrame(
        {"unique": [100, 25, 60], "per_use": [100, 100, 120]}, index=["a", "b", "c"]
    )
    out = run(fn, table.copy())
    check(isinstance(out, pd.DataFrame), f"return a DataFrame, got {type(out).__name__}")
    check("saving" in out.columns, "add a column named 'saving'")
    got = out["saving"].round(6).tolist()
    if got == [0.0, 75.0, 50.0]:
        raise AssertionError("saving is a fraction in [0, 1], not a percentage")
    if got == [1.0, 0.25, 0.5]:
        raise AssertionError("that is unique / per_use, the share kept; saving is 1 minus it")
    check(
        got == [0.0, 0.75, 0.5],
        f"saving = 1 - unique / per_use: expected [0.0, 0.75, 0.5], got {got}",
    )
    passed("check_05_add_saving", 1)
