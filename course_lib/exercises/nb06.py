"""Self-checks of notebook 06 (training with sharing): baselines, noise, gradient norms, initialisation.

Conventions: ``course_lib.exercises``. Reference solutions: ``solutions/06_training_with_sharing.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import torch
from torch import nn

from course_lib.config import BLOCK_STRATEGIES, SHARING_STRATEGIES, ModelConfig
from course_lib.exercises.compare import check, check_type, name_mistake
from course_lib.exercises.framework import exercise, if_error_says, passed, run
from course_lib.i18n import _
from course_lib.nn.model import build_model


@exercise
def check_06_majority_baseline(fn: Callable) -> None:
    """fn(train_labels, test_labels) -> test accuracy of the most frequent training label."""
    cases = [  # (train, test): the second has a training majority the test set lacks
        (torch.tensor([1, 1, 1, 0]), torch.tensor([1, 0, 1, 1, 0])),
        (torch.tensor([0, 0, 0, 1, 1]), torch.tensor([1, 1, 1, 0])),
    ]
    for train, test in cases:
        got = run(fn, train, test)
        majority = int(torch.bincount(train).argmax())
        want = (test == majority).float().mean().item()
        if isinstance(got, int | torch.Tensor) and not isinstance(got, bool) and got == majority:
            raise AssertionError(
                _(
                    "that is the majority label ({majority}); return the test ACCURACY of always "
                    "predicting it"
                ).format(majority=majority)
            )
        check_type(got, float, _("return a Python float (.item()), got {type}"))
        if got > 1:
            raise AssertionError(_("return a fraction in [0, 1], not a percentage"))
        if majority == 0 and abs(got - (test == 1).float().mean().item()) < 1e-6:
            raise AssertionError(
                _(
                    "decide the class from the TRAINING labels: predicting the test set's own "
                    "majority (or always 1) peeks at answers you would not have"
                )
            )
        name_mistake(got, want, [
            ((train == majority).float().mean().item(),
             _("measure on the TEST labels: that is the accuracy on the training labels")),
            ((test == 1 - majority).float().mean().item(),
             _("predict the MOST frequent training label: bincount(...).argmax(), not argmin")),
        ], atol=1e-6)  # fmt: skip
        check(
            abs(got - want) < 1e-6,
            _("expected {want:.3f}, got {got:.3f}").format(want=want, got=got),
        )
    passed("check_06_majority_baseline", len(cases))


@exercise
def check_06_sharing_cost(fn: Callable) -> None:
    """fn(results) -> Series by name: accuracy minus the ``none`` plan's, in points."""
    table = pd.DataFrame({"name": ["all", "unshared", "cycle M=2"],
                          "sharing": ["all", "none", "cycle"],
                          "accuracy": [0.69, 0.72, 0.74]})  # fmt: skip
    got = run(
        fn,
        table.copy(),
        likely=_(
            "find the unshared plan by its sharing column, results['sharing'] == 'none': "
            "its name need not be 'none' (here it is 'unshared')"
        ),
    )
    if isinstance(got, pd.DataFrame):
        raise AssertionError(_("return a pandas Series (one number per plan), not a DataFrame"))
    check_type(got, pd.Series, _("return a pandas Series, got {type}"))
    if list(got.index) == list(range(len(table))):
        raise AssertionError(
            _("index the Series by the plans' names: pd.Series(values, index=results['name'])")
        )
    check(list(got.index) == list(table["name"]), _("index the Series by the plans' names"))
    values = [round(float(v), 6) for v in got]
    if any(math.isnan(v) for v in values):
        raise AssertionError(
            _(
                "you got NaN: find the unshared plan by its sharing column, results['sharing'] == "
                "'none', and take its accuracy as a number (.iloc[0]) before subtracting"
            )
        )
    if values == [round(100 * (a / 0.72 - 1), 6) for a in (0.69, 0.72, 0.74)]:
        raise AssertionError(
            _("a difference in percentage points (plan - none) x 100, not a relative change")
        )
    if values == [3.0, 0.0, -2.0]:
        raise AssertionError(_("the sign: plan minus none, so a plan worse than none is negative"))
    if values == [-0.03, 0.0, 0.02]:
        raise AssertionError(_("in percentage points: multiply the difference by 100"))
    check(
        values == [-3.0, 0.0, 2.0],
        _("expected [-3.0, 0.0, 2.0] (find the row whose sharing is 'none'), got {values}").format(
            values=values
        ),
    )
    passed("check_06_sharing_cost", 1)


NOISE_CASES = [  # (accuracies of plans a, b, c ..., n_test): 1 and 2 standard errors differ
    ([0.493, 0.511, 0.631, 0.721, 0.586, 0.711], 20),  # each usual mistake keeps other plans
    ([0.75, 0.74, 0.70, 0.738], 1276),  # one SE = 1.2 points
    ([0.80, 0.79, 0.775, 0.76, 0.70], 400),  # one SE = 2.0 points
    ([0.60, 0.55, 0.59, 0.57], 100),  # one SE = 4.9 points: the best minus 0.049
]


def _within(accuracies: list[float], n_test: int, k: float = 1.0) -> set[str]:
    """Names of the plans within k standard errors of the best accuracy."""
    best = max(accuracies)
    se = (best * (1 - best) / n_test) ** 0.5
    return {chr(97 + i) for i, a in enumerate(accuracies) if a >= best - k * se}


def _noise_mistakes(accuracies: list[float], n_test: int) -> list[tuple[set[str], str]]:
    """The plans each usual mistake keeps, with its hint."""
    names = [chr(97 + i) for i in range(len(accuracies))]
    best = max(accuracies)
    mean = sum(accuracies) / len(accuracies)

    def keep(floor: float) -> set[str]:
        return {n for n, a in zip(names, accuracies, strict=True) if a >= floor}

    return [
        (_within(accuracies, n_test, k=2),
         _("one standard error, not two: keep the plans with accuracy >= best - se")),
        (keep(best - best * (1 - best) / n_test),
         _("the standard error is the SQUARE ROOT of p(1 - p) / n: "
           "sqrt({best}*{rest:.2f}/{n_test}) = {se:.3f}").format(
             best=best, rest=1 - best, n_test=n_test, se=(best * (1 - best) / n_test) ** 0.5)),
        (keep(best - (best * (1 - best)) ** 0.5),
         _("divide by n_test inside the square root: more test examples, less noise")),
        (set(names) - _within(accuracies, n_test),
         _("keep the plans WITHIN one standard error of the best (accuracy >= best - se), "
           "not the ones outside")),
        ({names[accuracies.index(best)]},
         _("keep every plan within one standard error of the best, not only the best")),
        (keep(mean - (mean * (1 - mean) / n_test) ** 0.5),
         _("measure from the BEST accuracy: keep accuracy >= best - se(best), not the mean")),
    ]  # fmt: skip


@exercise
def check_06_within_noise(fn: Callable) -> None:
    """fn(results, n_test) -> names with accuracy >= best - sqrt(best(1-best)/n_test)."""
    wrong = []  # the cases answered wrongly where two mistakes give the same names
    for accuracies, n_test in NOISE_CASES:
        names = [chr(97 + i) for i in range(len(accuracies))]
        table = pd.DataFrame({"name": names, "accuracy": accuracies})
        got = run(
            fn,
            table.copy(),
            n_test,
            likely=if_error_says(
                "math domain",
                hint=_("accuracies are fractions in [0, 1] here, so p(1 - p) >= 0"),
            ),
        )
        if isinstance(got, pd.Series | pd.DataFrame):
            raise AssertionError(
                _(
                    "return a list of the names, list(results.loc[keep, 'name']), not a {type}"
                ).format(type=type(got).__name__)
            )
        check_type(got, list | tuple, _("return a list of names, got {type}"))
        want = _within(accuracies, n_test)
        if set(got) == want:
            continue
        hints = {h for kept, h in _noise_mistakes(accuracies, n_test) if kept == set(got) != want}
        if len(hints) == 1:  # this input tells that mistake from the others
            raise AssertionError(hints.pop())
        wrong.append(
            _("accuracies {accuracies}, n_test={n_test}: expected {want}, got {got}").format(
                accuracies=accuracies, n_test=n_test, want=sorted(want), got=sorted(got)
            )
        )
    check(
        not wrong,
        _("{case}; se = sqrt(best * (1 - best) / n_test), keep accuracy >= best - se").format(
            case=wrong[0] if wrong else ""
        ),
    )
    passed("check_06_within_noise", len(NOISE_CASES))


@exercise
def check_06_global_grad_norm(fn: Callable) -> None:
    """fn(model) -> sqrt(sum of squared gradients), each shared tensor counted once."""
    torch.manual_seed(6)
    shared = nn.Linear(5, 5)
    net = nn.ModuleDict({
        "stack": nn.Sequential(nn.Linear(3, 5), nn.Tanh(), shared, nn.Tanh(), shared, nn.Linear(5, 1)),
        "unused": nn.Linear(5, 5),  # never called: its .grad stays None
    })  # fmt: skip
    net["stack"](torch.randn(8, 3)).pow(2).mean().backward()
    want = math.sqrt(
        sum(p.grad.pow(2).sum().item() for p in net.parameters() if p.grad is not None)
    )
    got = run(
        fn,
        net,
        likely=if_error_says(
            "NoneType",
            hint=_(
                "skip the parameters whose .grad is None (here the `unused` Linear, which "
                "never ran): `if p.grad is not None`"
            ),
        ),
    )
    if isinstance(got, torch.Tensor):
        raise AssertionError(
            _("return a Python float (.item() or math.sqrt of floats), not a tensor")
        )
    check_type(got, float, _("return a Python float, got {type}"))
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    name_mistake(got, want, [
        (sum(g.norm().item() for g in grads),
         _("square the entries and sum them all before the root: sqrt(sum of p.grad ** 2), not "
           "the sum of each tensor's norm")),
        (math.sqrt(sum(p.detach().pow(2).sum().item() for p in net.parameters())),
         _("the norm of the GRADIENTS, p.grad, not of the weights")),
        (max(g.abs().max().item() for g in grads),
         _("the global norm is the square root of the sum of squares, not the largest entry")),
    ], atol=1e-6)  # fmt: skip
    per_use = math.sqrt(
        sum(p.grad.pow(2).sum().item()
            for _, p in net.named_parameters(remove_duplicate=False) if p.grad is not None)
    )  # fmt: skip
    if abs(got - per_use) < 1e-6:
        raise AssertionError(
            _(
                "count the shared tensor once (model.parameters()): its .grad already holds the "
                "sum over its uses"
            )
        )
    if abs(got - want**2) < 1e-6:
        raise AssertionError(_("take the square root of the sum of squares"))
    torch.testing.assert_close(
        torch.tensor(got), torch.tensor(want), msg=_("sqrt(sum over p of (p.grad ** 2).sum())")
    )
    passed("check_06_global_grad_norm", 1)


@exercise
def check_06_reinit_embeddings(fn: Callable) -> None:
    """fn(model, std) re-draws tok_emb and pos_emb from N(0, std) and touches nothing else."""
    torch.manual_seed(7)
    cfg = ModelConfig(vocab_size=600, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=64,
                      init="he")  # fmt: skip
    for std in (0.02, 0.1):
        model = build_model(cfg)
        objects = dict(model.named_parameters())
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        run(fn, model, std)
        after = dict(model.named_parameters())
        for name in ("embed.tok_emb.weight", "embed.pos_emb.weight"):
            check(name in after, _("keep the module structure: {name} is gone").format(name=name))
            got = after[name].std().item()
            check(
                not torch.equal(after[name], before[name]),
                _(
                    "{name} did not change: nn.init.normal_(it, mean=0.0, std=std) re-draws it"
                ).format(name=name),
            )
            check(
                after[name] is objects[name],
                _(
                    "{name} is a new tensor: re-draw the existing one in place with "
                    "nn.init.normal_(...); a new Embedding or Parameter is not the tensor an "
                    "optimizer already holds"
                ).format(name=name),
            )
            mean = after[name].mean().item()
            if abs(mean - std) < 0.2 * std + 0.05 and abs(got - 1) < 0.15:
                raise AssertionError(
                    _(
                        "{name} has mean {mean:.3f} and std {got:.3f}: nn.init.normal_(w, std) "
                        "passes std as the MEAN; write nn.init.normal_(w, mean=0.0, std=std)"
                    ).format(name=name, mean=mean, got=got)
                )
            if after[name].abs().max().item() <= std and abs(got / std - 3**-0.5) < 0.1:
                raise AssertionError(
                    _(
                        "{name} lies within [-{std}, {std}]: that is nn.init.uniform_; draw from "
                        "the normal distribution, nn.init.normal_(w, mean=0.0, std=std)"
                    ).format(name=name, std=std)
                )
            if abs(got / std**2 - 1) < 0.15:
                raise AssertionError(
                    _(
                        "{name} has std {got:.4f} = std**2: std is the standard deviation, pass "
                        "std=std, not the variance"
                    ).format(name=name, got=got)
                )
            check(
                abs(got / std - 1) < 0.15,
                _("{name} has std {got:.3f}, expected {std}: use the std argument").format(
                    name=name, got=got, std=std
                ),
            )
        changed = [
            n for n, p in after.items() if "embed." not in n and not torch.equal(p, before[n])
        ]
        check(
            not changed,
            _("change only the two embedding tables; you also changed {changed}").format(
                changed=changed[:3]
            ),
        )
    passed("check_06_reinit_embeddings", 2)


@exercise
def check_06_rank_correlation(fn: Callable) -> None:
    """fn(x, y) -> Spearman's rank correlation of two pandas Series."""
    x = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0])
    cases = [
        (x, pd.Series([1.0, 4.0, 9.0, 16.0, 1000.0]), 1.0),
        (x, pd.Series([5.0, 4.0, 3.0, 2.0, 1.0]), -1.0),
        (pd.Series([1.0, 2.0, 2.0, 3.0]), pd.Series([1.0, 2.0, 3.0, 4.0]), 0.9486833),
        (pd.Series([3.0, 1.0, 4.0, 1.5, 9.0]), pd.Series([2.0, 7.0, 1.0, 8.0, 2.8]), -0.6),
    ]
    for a, b, want in cases:
        got = run(fn, a, b)
        check_type(got, float, _("return a Python float, got {type}"))
        if want == 1.0 and abs(got - a.corr(b)) < 1e-6:
            raise AssertionError(
                _(
                    "that is Pearson's correlation of the values; rank both first (.rank()), so "
                    "any increasing relation scores 1"
                )
            )
        if (
            abs(got - want) > 1e-6
            and min(abs(got - a.rank().corr(b)), abs(got - a.corr(b.rank()))) < 1e-6
        ):
            raise AssertionError(
                _("rank BOTH series, then take Pearson's correlation of the ranks")
            )
        check(
            abs(got - want) < 1e-6,
            _("expected {want:.4f}, got {got:.4f} (ties get average ranks)").format(
                want=want, got=got
            ),
        )
    passed("check_06_rank_correlation", len(cases))


@exercise
def check_06_plans_for(fn: Callable) -> None:
    """fn(n_blocks) -> {name: ModelConfig changes} for all seven sharing strategies."""
    for m in (2, 3):
        plans = run(fn, m)
        check_type(plans, dict, _("return a dict of name -> changes, got {type}"))
        sharing = sorted(c.get("sharing") for c in plans.values())
        check(
            sharing == sorted(SHARING_STRATEGIES),
            _("one plan per strategy {strategies}, got sharing values {sharing}").format(
                strategies=list(SHARING_STRATEGIES), sharing=sharing
            ),
        )
        for name, changes in plans.items():
            s = changes["sharing"]
            if s in BLOCK_STRATEGIES:
                check(
                    changes.get("n_blocks") == m,
                    _("{name}: {s} needs n_blocks={m} (M)").format(name=name, s=s, m=m),
                )
            else:
                check(
                    changes.get("n_blocks") is None,
                    _("{name}: {s} has no M; leave n_blocks out").format(name=name, s=s),
                )
            try:
                ModelConfig(n_layers=2 * m).replace(**changes)
            except (TypeError, ValueError) as e:
                raise AssertionError(
                    _("{name}: not a valid ModelConfig change: {e}").format(name=name, e=e)
                ) from None
    passed("check_06_plans_for", 2)
