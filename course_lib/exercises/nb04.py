"""Self-checks of notebook 04 (what sharing means): unique counts, summed gradients, shared storage.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/04_what_sharing_means.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from course_lib.exercises.compare import check, check_close, check_tensor, check_type, name_mistake
from course_lib.exercises.framework import exercise, if_error_says, passed, run
from course_lib.i18n import _
from course_lib.nn.layers import block_parameter_count
from course_lib.nn.plan_summary import explore


@exercise
def check_04_count_unique(fn: Callable) -> None:
    """fn(model) -> parameters with each shared tensor counted once."""
    shared = nn.Linear(6, 6)
    net = nn.Sequential(nn.Linear(3, 6), shared, nn.ReLU(), shared, nn.Linear(6, 2))
    twins = nn.Sequential(shared, copy.deepcopy(shared))  # equal values, separate tensors
    for model in (net, nn.Linear(4, 5), twins):
        n = run(fn, model)
        tensors = list({id(p): p for p in model.parameters()}.values())
        want = sum(p.numel() for p in tensors)
        if type(n).__module__ == "numpy":
            raise AssertionError(
                _(
                    "return a Python int, int(...): numpy gave a {type}, which prints alike but "
                    "is another type"
                ).format(type=type(n).__name__)
            )
        check_type(n, int, _("return an int, got {type}"))
        per_use = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
        by_value = []
        for p in tensors:
            if not any(q.shape == p.shape and torch.equal(q, p) for q in by_value):
                by_value.append(p)
        name_mistake(n, want, [
            (per_use,
             _("you counted every alias: the shared Linear is used twice but stored once; "
               "keep one entry per tensor, e.g. a dict keyed by id(p)")),
            (len(tensors), _("count the numbers in each tensor (p.numel()), not the tensors")),
            (sum(p.numel() for p in tensors if p.dim() > 1),
             _("count the biases too: every parameter tensor, not only weights")),
            (sum(p.numel() for p in by_value),
             _("equal values are not one tensor: a deep copy holds its own numbers; key by "
               "id(p) (the object), not by the values")),
        ], atol=0)  # fmt: skip
        check(n == want, _("expected {want} unique parameters, got {n}").format(want=want, n=n))
    passed("check_04_count_unique", 3)


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
    check_tensor(g)
    if g.shape == layer.bias.shape:
        raise AssertionError(
            _("return the gradient of layer.weight, shape {shape}, not of the bias").format(
                shape=tuple(want.shape)
            )
        )
    check(
        g.shape == want.shape,
        _("the gradient has the weight's shape {shape}").format(shape=tuple(want.shape)),
    )
    check(torch.equal(layer.weight, before), _("leave `layer` unchanged: work on deep copies"))
    check(
        layer.weight.grad is None,
        _(
            "work on two deep copies, copy.deepcopy(layer): your function ran `layer` itself and "
            "left a gradient in layer.weight.grad"
        ),
    )
    first, second = copy.deepcopy(layer), copy.deepcopy(layer)
    second(torch.relu(first(x))).sum().backward()
    plain = copy.deepcopy(layer)
    plain(plain(x)).sum().backward()
    averaged = copy.deepcopy(layer)
    averaged(torch.relu(averaged(x))).mean().backward()
    name_mistake(g, want, [
        (first.weight.grad, _("that is one use's gradient: a shared weight gets the SUM of both")),
        (second.weight.grad, _("that is one use's gradient: a shared weight gets the SUM of both")),
        (want / 2, _("add the two gradients, do not average them")),
        (plain.weight.grad,
         _("the computation is second(relu(first(x))).sum(): you left out the relu")),
        (averaged.weight.grad, _("backpropagate the .sum() of the output, not its .mean()")),
    ])  # fmt: skip
    check_close(g, want, _("a shared weight gets the sum of the gradients at its two uses"))
    passed("check_04_grad_via_copies", 1)


@exercise
def check_04_shared_elements(fn: Callable) -> None:
    """fn(m1, m2) -> how many parameter numbers the modules hold in the same memory."""
    a = nn.Linear(10, 20)
    tied = nn.Linear(10, 20)
    tied.weight = a.weight  # the weight is shared, the bias is not
    usual = {  # what the usual mistakes return, case by case
        "tensors": _("count the numbers (p.numel()) held in shared memory, not the tensors"),
        "double": _("count each shared number once, not once in each module"),
        "bool": _("return how MANY numbers are shared, an int, not whether any are"),
    }
    cases = [
        (a, a, 220, _("a module shares all its 220 numbers with itself"),
         {2: usual["tensors"], 440: usual["double"],
          0: _("p.data is a new Python object every time you ask: compare the Parameters "
               "themselves (`is`) or p.data_ptr(), never id(p.data)")}),
        (a, copy.deepcopy(a), 0,
         _("equal values are not sharing: compare memory (data_ptr), not values"), {}),
        (a, nn.Linear(20, 5), 0, _("Linear(10, 20) and Linear(20, 5) share nothing"), {}),
        (a, tied, 200, _("only the 200 weight numbers are shared here, not the bias"),
         {1: usual["tensors"], 400: usual["double"],
          220: _("count the numbers of the shared tensors only (here the weight), not the "
                 "whole module because one tensor is shared")}),
    ]  # fmt: skip
    for m1, m2, want, hint, mistakes in cases:
        n = run(fn, m1, m2)
        if isinstance(n, bool):
            raise AssertionError(usual["bool"])
        check_type(n, int, _("return an int, got {type}"))
        if n != want and n in mistakes:
            raise AssertionError(mistakes[n])
        check(n == want, _("{hint}: expected {want}, got {n}").format(hint=hint, want=want, n=n))
    passed("check_04_shared_elements", len(cases))


@exercise
def check_04_hadamard_weights(fn: Callable) -> None:
    """fn(l1, l3) -> (W1 ⊙ W3, b1 ⊙ b3), still connected to l1 and l3 for gradients."""
    l1, l3 = nn.Linear(4, 3), nn.Linear(4, 3)
    out = run(
        fn,
        l1,
        l3,
        likely=if_error_says(
            "cannot be multiplied",
            "mat1 and mat2",
            "size mismatch",
            hint=_(
                "⊙ is the elementwise product, l1.weight * l3.weight; `@` is a matrix "
                "product, and (3, 4) @ (3, 4) does not fit"
            ),
        ),
    )
    if isinstance(out, nn.Module):
        raise AssertionError(_("return the pair of tensors (W2, b2), not a layer"))
    check(isinstance(out, tuple | list) and len(out) == 2, _("return a pair (W2, b2)"))
    w2, b2 = out
    check_type(w2, torch.Tensor, _("W2 is a tensor, got {type}"))
    if w2.shape in ((3, 3), (4, 4)):
        raise AssertionError(
            _(
                "W2 has W1's shape (3, 4), got {shape}: that is a matrix product; ⊙ multiplies "
                "entry by entry, l1.weight * l3.weight"
            ).format(shape=tuple(w2.shape))
        )
    check(w2.shape == (3, 4), _("W2 has W1's shape (3, 4)"))
    check(isinstance(b2, torch.Tensor) and b2.shape == (3,), _("b2 has b1's shape (3,)"))
    with torch.no_grad():
        name_mistake(w2, l1.weight * l3.weight, [
            (l1.weight, _("W2 is the elementwise product W1 * W3, not a copy of one of them")),
            (l3.weight, _("W2 is the elementwise product W1 * W3, not a copy of one of them")),
            (l1.weight + l3.weight, _("⊙ is a product, not a sum: l1.weight * l3.weight")),
        ])  # fmt: skip
        check_close(
            w2, l1.weight * l3.weight, _("⊙ is the elementwise product: l1.weight * l3.weight")
        )
        name_mistake(b2, l1.bias * l3.bias, [
            (l1.bias, _("the bias too: b2 = l1.bias * l3.bias, not a copy of b1")),
            (l3.bias, _("the bias too: b2 = l1.bias * l3.bias, not a copy of b3")),
            (l1.bias + l3.bias, _("the bias is a product too, not a sum: l1.bias * l3.bias")),
        ])  # fmt: skip
        check_close(b2, l1.bias * l3.bias, _("the bias too: b2 = l1.bias * l3.bias"))
    check(
        w2.requires_grad and w2.grad_fn is not None and b2.grad_fn is not None,
        _(
            "keep W2 and b2 connected to l1 and l3 (no .detach(), no torch.no_grad(), no "
            "nn.Parameter(...)) so gradients flow"
        ),
    )
    passed("check_04_hadamard_weights", 3)


@exercise
def check_04_cycle_block_counts(fn: Callable) -> None:
    """fn(d, d_ff, n_layers, n_blocks) -> (unique, per_use) block parameters of CYCLE."""
    for d, ff, n, m in ((256, 1024, 12, 3), (64, 256, 6, 2), (768, 3072, 12, 1)):
        out = run(fn, d, ff, n, m)
        if isinstance(out, list) and len(out) == 2:
            raise AssertionError(_("return a tuple (unique, per_use), not a list"))
        check(isinstance(out, tuple) and len(out) == 2, _("return a pair (unique, per_use)"))
        block = block_parameter_count(d, ff)
        want = (m * block, n * block)
        if out == want[::-1]:
            raise AssertionError(
                _("swapped: unique counts the M stored blocks, per-use the N uses")
            )
        if out[0] == want[1]:
            raise AssertionError(_("unique parameters: CYCLE stores only M blocks, not N"))
        if m < n and out[1] == want[0]:
            raise AssertionError(
                _(
                    "per-use counts every one of the N layers: a block used by N/M layers "
                    "counts N/M times"
                )
            )
        for wrong_block, hint in (
            (block - 4 * d, _("include both LayerNorms in a block: 2 x (d weights + d biases)")),
            (block - 5 * d - ff, _("include every bias: 4d in attention, d_ff + d in the FFN")),
            (4 * d * d + 2 * d * ff, _("one block is more than its matrices: add the biases and "
             "LayerNorms, 9d + d_ff")),
        ):  # fmt: skip
            if out == (m * wrong_block, n * wrong_block):
                raise AssertionError(hint)
        check(
            out[0] == want[0],
            _(
                "unique = M x one block; one block holds 4d^2 + 2*d*d_ff + 9d + d_ff = {block:,} "
                "parameters at d={d}, d_ff={ff}"
            ).format(block=block, d=d, ff=ff),
        )
        check(
            out == want,
            _("for d={d}, d_ff={ff}, N={n}, M={m}: expected {want}, got {out}").format(
                d=d, ff=ff, n=n, m=m, want=want, out=out
            ),
        )
    passed("check_04_cycle_block_counts", 3)


@exercise
def check_04_max_blocks_within(fn: Callable) -> None:
    """fn(budget_mb, n_layers) -> the largest M whose CYCLE model fits the budget (0: none)."""
    exact = explore("cycle", n_layers=12, n_blocks=5).param_mb  # a budget M = 5 fits exactly
    for budget, n in ((10.0, 12), (20.0, 12), (4.0, 12), (100.0, 6), (exact, 12)):
        sizes = {m: explore("cycle", n_layers=n, n_blocks=m).param_mb for m in range(1, n + 1)}
        fits = [m for m, mb in sizes.items() if mb <= budget]
        want = max(fits, default=0)
        m = run(fn, budget, n)
        if isinstance(m, float) and any(abs(m - mb) < 1e-6 for mb in sizes.values()):
            raise AssertionError(
                _("return M, the number of blocks, not the model's size in MB ({m:.2f})").format(
                    m=m
                )
            )
        if m is None and want == 0:
            raise AssertionError(
                _("budget {budget} MB: no M fits, return 0 (not None)").format(budget=budget)
            )
        check_type(m, int, _("return an int, got {type}"))
        check(
            0 <= m <= n,
            _("M counts the blocks of N={n} layers: 0 <= M <= {n}, got {m}").format(n=n, m=m),
        )
        if m > want:
            raise AssertionError(
                _(
                    "M={m} needs {mb:.2f} MB, over the {budget} MB budget: compare "
                    "explore(...).param_mb with the budget"
                ).format(m=m, mb=sizes[m], budget=budget)
            )
        strict = want - 1 if budget == exact else None  # M = want fits exactly; < drops it
        smallest = min(fits, default=want)  # a mistake only where a larger M fits too
        name_mistake(m, want, [
            (strict,
             _("M={want} needs exactly the {budget:.4f} MB budget, and that fits: use <=, "
               "not <").format(want=want, budget=budget)),
            (smallest,
             _("M={m} is the SMALLEST M that fits {budget} MB; the question asks for the "
               "largest").format(m=smallest, budget=budget)),
        ])  # fmt: skip
        check(
            m == want,
            _("a larger M fits {budget} MB at N={n}: expected {want}, got {m}").format(
                budget=budget, n=n, want=want, m=m
            ),
        )
    passed("check_04_max_blocks_within", 5)
