"""Self-checks of notebook 04 (what sharing means): unique counts, summed gradients, shared storage.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/04_what_sharing_means.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from ..layers import block_parameter_count
from ..widgets import explore
from .framework import check, check_close, exercise, passed, run


@exercise
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
        tensors = {id(p): p for p in model.parameters()}.values()
        if n == len(tensors):
            raise AssertionError("count the numbers in each tensor (p.numel()), not the tensors")
        if n == sum(p.numel() for p in tensors if p.dim() > 1):
            raise AssertionError("count the biases too: every parameter tensor, not only weights")
        check(n == expected, f"expected {expected} unique parameters, got {n}")
    passed("check_04_count_unique", 2)


@exercise
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


@exercise
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


@exercise
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


@exercise
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


@exercise
def check_04_max_blocks_within(fn: Callable) -> None:
    """fn(budget_mb, n_layers) -> the largest M whose CYCLE model fits the budget (0: none)."""
    for budget, n in ((10.0, 12), (20.0, 12), (4.0, 12), (100.0, 6)):
        sizes = {m: explore("cycle", n_layers=n, n_blocks=m).param_mb for m in range(1, n + 1)}
        want = max([m for m, mb in sizes.items() if mb <= budget], default=0)
        m = run(fn, budget, n)
        check(isinstance(m, int), f"return an int, got {type(m).__name__}")
        check(0 <= m <= n, f"M counts the blocks of N={n} layers: 0 <= M <= {n}, got {m}")
        if m > want:
            raise AssertionError(
                f"M={m} needs {sizes[m]:.2f} MB, over the {budget} MB budget: "
                "compare explore(...).param_mb with the budget"
            )
        check(m == want, f"a larger M fits {budget} MB at N={n}: expected {want}, got {m}")
    passed("check_04_max_blocks_within", 4)
