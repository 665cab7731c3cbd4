"""Self-checks for the exercises of notebooks 04 (what sharing means) and 05 (strategies).

Same framework as ``course_lib.checks`` (``check``, ``run``, ``isolated``, ``passed``):
each ``check_NN_name(fn)`` tries the learner's function on a few inputs, recognises the
usual mistakes and raises ``AssertionError`` with a hint that names the fix. Reference
solutions: ``load_solution("04_what_sharing_means")`` and ``"05_sharing_strategies"``;
``tests/test_checks_sharing.py`` shows each passes and each check rejects a wrong answer.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pandas as pd
import torch
from torch import nn

from .checks import check, check_close, isolated, passed, run
from .layers import attention_parameter_count, block_parameter_count, ffn_parameter_count
from .sharing import block_index
from .variants import sandwich_plan
from .widgets import explore

# --------------------------------------------------------------- notebook 04: what sharing means


@isolated
def check_04_count_unique(fn: Callable) -> None:
    """fn(model) -> parameters with each shared tensor counted once."""
    shared = nn.Linear(6, 6)
    net = nn.Sequential(nn.Linear(3, 6), shared, nn.ReLU(), shared, nn.Linear(6, 2))
    want = sum(p.numel() for p in net.parameters())
    per_use = sum(p.numel() for _, p in net.named_parameters(remove_duplicate=False))
    for model, expected in ((net, want), (nn.Linear(4, 5), 25)):
        n = run(fn, model)
        check(isinstance(n, int), f"return an int, got {type(n).__name__}")
        if n == per_use and model is net:
            raise AssertionError(
                "you counted every alias: the shared Linear is used twice but stored once; "
                "keep one entry per tensor, e.g. a dict keyed by id(p)"
            )
        check(n == expected, f"expected {expected} unique parameters, got {n}")
    passed("check_04_count_unique", 2)


@isolated
def check_04_grad_via_copies(fn: Callable) -> None:
    """fn(layer, x) -> gradient of layer.weight when ``layer`` is used twice (from copies)."""
    layer = nn.Linear(5, 5)
    x = torch.randn(4, 5)
    before = layer.weight.detach().clone()
    g = run(fn, layer, x)
    shared = copy.deepcopy(layer)
    shared(torch.relu(shared(x))).sum().backward()
    want = shared.weight.grad
    check(isinstance(g, torch.Tensor), f"return a tensor, got {type(g).__name__}")
    check(g.shape == want.shape, f"the gradient has the weight's shape {tuple(want.shape)}")
    check(torch.equal(layer.weight, before), "leave `layer` unchanged: work on deep copies")
    first, second = copy.deepcopy(layer), copy.deepcopy(layer)
    second(torch.relu(first(x))).sum().backward()
    for one in (first.weight.grad, second.weight.grad):
        if torch.allclose(g, one, atol=1e-5):
            raise AssertionError("that is one use's gradient: a shared weight gets the SUM of both")
    if torch.allclose(g, want / 2, atol=1e-5):
        raise AssertionError("add the two gradients, do not average them")
    check_close(g, want, "gradient = first.weight.grad + second.weight.grad")
    passed("check_04_grad_via_copies", 1)


@isolated
def check_04_shared_elements(fn: Callable) -> None:
    """fn(m1, m2) -> how many parameter numbers the modules hold in the same memory."""
    a = nn.Linear(10, 20)
    tied = nn.Linear(10, 20)
    tied.weight = a.weight  # the weight is shared, the bias is not
    cases = [
        (a, a, 220, "a module shares all its 220 numbers with itself"),
        (
            a,
            copy.deepcopy(a),
            0,
            "equal values are not sharing: compare memory (data_ptr), not values",
        ),
        (a, nn.Linear(20, 5), 0, "Linear(10, 20) and Linear(20, 5) share nothing"),
        (a, tied, 200, "only the 200 weight numbers are shared here, not the bias"),
    ]
    for m1, m2, want, hint in cases:
        n = run(fn, m1, m2)
        check(isinstance(n, int), f"return an int, got {type(n).__name__}")
        check(n == want, f"{hint}: expected {want}, got {n}")
    passed("check_04_shared_elements", len(cases))


@isolated
def check_04_hadamard_weights(fn: Callable) -> None:
    """fn(l1, l3) -> (W1 ⊙ W3, b1 ⊙ b3), still connected to l1 and l3 for gradients."""
    l1, l3 = nn.Linear(4, 3), nn.Linear(4, 3)
    out = run(fn, l1, l3)
    check(isinstance(out, tuple) and len(out) == 2, "return a pair (W2, b2)")
    w2, b2 = out
    check(isinstance(w2, torch.Tensor) and w2.shape == (3, 4), "W2 has W1's shape (3, 4)")
    check(isinstance(b2, torch.Tensor) and b2.shape == (3,), "b2 has b1's shape (3,)")
    if torch.allclose(w2, l1.weight) or torch.allclose(w2, l3.weight):
        raise AssertionError("W2 is the elementwise product W1 * W3, not a copy of one of them")
    check_close(w2, l1.weight * l3.weight, "⊙ is the elementwise product: l1.weight * l3.weight")
    check_close(b2, l1.bias * l3.bias, "the bias too: b2 = l1.bias * l3.bias")
    check(
        w2.requires_grad and w2.grad_fn is not None,
        "keep W2 connected to W1 and W3 (no .detach(), no torch.no_grad()) so gradients flow",
    )
    passed("check_04_hadamard_weights", 3)


@isolated
def check_04_cycle_block_counts(fn: Callable) -> None:
    """fn(d, d_ff, n_layers, n_blocks) -> (unique, per_use) block parameters of CYCLE."""
    for d, ff, n, m in ((256, 1024, 12, 3), (64, 256, 6, 2), (768, 3072, 12, 1)):
        out = run(fn, d, ff, n, m)
        check(isinstance(out, tuple) and len(out) == 2, "return a pair (unique, per_use)")
        block = block_parameter_count(d, ff)
        want = (m * block, n * block)
        if out == want[::-1]:
            raise AssertionError("swapped: unique counts the M stored blocks, per-use the N uses")
        if out[0] == want[1]:
            raise AssertionError("unique parameters: CYCLE stores only M blocks, not N")
        check(
            out[0] == want[0],
            f"unique = M x one block; one block holds 4d^2 + 2*d*d_ff + 9d + d_ff = {block:,} "
            f"parameters at d={d}, d_ff={ff}",
        )
        check(out == want, f"for d={d}, d_ff={ff}, N={n}, M={m}: expected {want}, got {out}")
    passed("check_04_cycle_block_counts", 3)


@isolated
def check_04_max_blocks_within(fn: Callable) -> None:
    """fn(budget_mb, n_layers) -> the largest M whose CYCLE model fits the budget (0: none)."""
    for budget, n in ((10.0, 12), (20.0, 12), (4.0, 12), (100.0, 6)):
        sizes = {m: explore("cycle", n_layers=n, n_blocks=m).param_mb for m in range(1, n + 1)}
        want = max([m for m, mb in sizes.items() if mb <= budget], default=0)
        m = run(fn, budget, n)
        check(isinstance(m, int), f"return an int, got {type(m).__name__}")
        if m > want:
            raise AssertionError(
                f"M={m} needs {sizes[m]:.2f} MB, over the {budget} MB budget: "
                "compare explore(...).param_mb with the budget"
            )
        check(m == want, f"a larger M fits {budget} MB at N={n}: expected {want}, got {m}")
    passed("check_04_max_blocks_within", 4)


# --------------------------------------------------------------- notebook 05: strategies


@isolated
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
        check(got == expected, f"{strategy}: expected {expected:,}, got {got:,}")
    passed("check_05_albert_stack_params", 4)


@isolated
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


@isolated
def check_05_repeat_plan(fn: Callable) -> None:
    """fn(n_blocks, repeats) -> block ids with each block repeated in a row (MobileLLM)."""
    for m, r in ((6, 2), (3, 3), (4, 1)):
        ids = list(run(fn, m, r))
        want = [block_index("sequence", i, m * r, m) for i in range(m * r)]
        if r > 1 and ids == [i % m for i in range(m * r)]:
            raise AssertionError("that is CYCLE (0, 1, 2, 0, 1, 2); repeat each block in a row")
        check(ids == want, f"M={m}, {r} repeats: expected {want}, got {ids}")
    passed("check_05_repeat_plan", 3)


@isolated
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


@isolated
def check_05_sandwich_ids(fn: Callable) -> None:
    """fn(n_layers) -> [0, 1, ..., 1, 2]: own first and last layer, shared middle."""
    for n in (3, 6, 12):
        ids = list(run(fn, n))
        want = list(sandwich_plan(n).attn_ids)
        check(len(ids) == n, f"one id per layer: {n} ids, got {len(ids)}")
        if ids[-1] == ids[-2]:
            raise AssertionError("the LAST layer keeps its own weights too (a third block)")
        check(ids == want, f"N={n}: expected {want}, got {ids}")
    passed("check_05_sandwich_ids", 3)


@isolated
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


@isolated
def check_05_add_saving(fn: Callable) -> None:
    """fn(table) -> the table with a column ``saving`` = 1 - unique / per_use."""
    table = pd.DataFrame(
        {"unique": [100, 25, 60], "per_use": [100, 100, 120]}, index=["a", "b", "c"]
    )
    out = run(fn, table.copy())
    check(isinstance(out, pd.DataFrame), f"return a DataFrame, got {type(out).__name__}")
    check("saving" in out.columns, "add a column named 'saving'")
    got = out["saving"].round(6).tolist()
    if got == [1.0, 0.25, 0.5]:
        raise AssertionError("that is unique / per_use, the share kept; saving is 1 minus it")
    check(
        got == [0.0, 0.75, 0.5],
        f"saving = 1 - unique / per_use: expected [0.0, 0.75, 0.5], got {got}",
    )
    passed("check_05_add_saving", 1)
