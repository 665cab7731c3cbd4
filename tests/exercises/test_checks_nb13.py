"""Notebook 13: plausible wrong answers (``WRONG``) and the hint each must get; tests/exercises/test_checks.py
runs them, with the reference solutions and the "not attempted" line of every check."""

import math

import torch

from course_lib.exercises import nb13
from course_lib.exercises.framework import load_solution

S13 = load_solution("13_depth_on_demand")

# ------------------------------------------------------------- exercise 1: expert choice


def _top(scores, allowed, k, largest=True):
    masked = scores.masked_fill(~allowed, -math.inf if largest else math.inf)
    chosen = torch.zeros_like(allowed)
    chosen[masked.topk(min(k, int(allowed.sum())), largest=largest).indices] = True
    return chosen


def route_floor(scores, eligible, capacity):
    return _top(scores, eligible, int(capacity * len(scores)))


def route_share_of_eligible(scores, eligible, capacity):
    return _top(scores, eligible, math.ceil(capacity * int(eligible.sum())))


def route_ignores_eligible(scores, eligible, capacity):
    return _top(scores, torch.ones_like(eligible), math.ceil(capacity * len(scores) - 1e-9))


def route_lowest(scores, eligible, capacity):
    return _top(scores, eligible, math.ceil(capacity * len(scores) - 1e-9), largest=False)


def route_indices(scores, eligible, capacity):
    return S13.expert_choice(scores, eligible, capacity).nonzero().flatten()


def route_float(scores, eligible, capacity):
    return S13.expert_choice(scores, eligible, capacity).float()


def route_all_eligible(scores, eligible, capacity):
    return eligible.clone()


def route_threshold(scores, eligible, capacity):  # a fixed threshold instead of a top-k
    return eligible & (scores > 0.5)


# ------------------------------------------------------------- exercise 2: FLOPs


def _flops(depth, d, d_ff, rec, count, keys=None, mult=2, attn=True):
    total = 0
    for r in range(rec):
        n = count(depth, r)
        k = n if keys is None else keys(depth)
        total += mult * n * (4 * d * d + 2 * d * d_ff) + (2 * mult * n * k * d if attn else 0)
    return float(total)


def _right(dep, r):
    return int((dep > r).sum())


def flops_fixed(depth, d, d_ff, rec):
    return _flops(depth, d, d_ff, rec, lambda dep, r: int((dep > 0).sum()))


def flops_padding(depth, d, d_ff, rec):
    return _flops(depth, d, d_ff, rec, lambda dep, r: len(dep))


def flops_equal(depth, d, d_ff, rec):
    return _flops(depth, d, d_ff, rec, lambda dep, r: int((dep == r + 1).sum()))


def flops_geq(depth, d, d_ff, rec):
    return _flops(depth, d, d_ff, rec, lambda dep, r: int((dep >= r).sum()))


def flops_no_attention(depth, d, d_ff, rec):
    return _flops(depth, d, d_ff, rec, _right, attn=False)


def flops_all_keys(depth, d, d_ff, rec):
    return _flops(depth, d, d_ff, rec, _right, keys=len)


def flops_macs(depth, d, d_ff, rec):
    return _flops(depth, d, d_ff, rec, _right, mult=1)


def flops_tensor(depth, d, d_ff, rec):  # a right answer: a one-element tensor
    return torch.tensor(S13.recursion_flops(depth, d, d_ff, rec))


# ------------------------------------------------------------- exercise 3: loop counts


def loops_tensor(mean, generator):
    return 1 + torch.poisson(torch.tensor([mean - 1.0]), generator=generator).long()


def loops_zero(mean, generator):
    return int(torch.poisson(torch.tensor([float(mean)]), generator=generator).item())


def loops_constant(mean, generator):
    return int(mean)


def loops_plus_one(mean, generator):
    return 1 + int(torch.poisson(torch.tensor([float(mean)]), generator=generator).item())


def loops_uniform_to_mean(mean, generator):
    return int(torch.randint(1, int(mean) + 1, (1,), generator=generator))


def loops_global_rng(mean, generator):
    return 1 + int(torch.poisson(torch.tensor([mean - 1.0])).item())


def loops_uniform_wide(mean, generator):  # a right answer: uniform on 1..2 mean - 1
    return int(torch.randint(1, 2 * int(mean), (1,), generator=generator))


WRONG = [
    (nb13.check_13_expert_choice, route_floor, "rounded UP"),
    (nb13.check_13_expert_choice, route_share_of_eligible, "not of the tokens still eligible"),
    (nb13.check_13_expert_choice, route_ignores_eligible, "only eligible tokens may go on"),
    (nb13.check_13_expert_choice, route_lowest, "HIGHEST router scores"),
    (nb13.check_13_expert_choice, route_indices, "not the indices"),
    (nb13.check_13_expert_choice, route_float, "return a bool tensor"),
    (nb13.check_13_expert_choice, route_all_eligible, "the router must choose"),
    (nb13.check_13_expert_choice, route_threshold, "expected"),
    (nb13.check_13_recursion_flops, flops_fixed, "fixed-depth looping"),
    (nb13.check_13_recursion_flops, flops_padding, "padding \\(depth 0\\) is never computed"),
    (nb13.check_13_recursion_flops, flops_equal, "not depth == r \\+ 1"),
    (nb13.check_13_recursion_flops, flops_geq, "depth >= r counts padding"),
    (nb13.check_13_recursion_flops, flops_no_attention, "attention adds 4 n_r\\^2 d"),
    (nb13.check_13_recursion_flops, flops_all_keys, "not 4 n_r T d"),
    (nb13.check_13_recursion_flops, flops_macs, "a multiply-add is 2 FLOPs"),
    (nb13.check_13_sample_loops, loops_tensor, "not a tensor"),
    (nb13.check_13_sample_loops, loops_zero, "never below 1"),
    (nb13.check_13_sample_loops, loops_constant, "every batch gets its own"),
    (nb13.check_13_sample_loops, loops_plus_one, "about mean \\+ 1"),
    (nb13.check_13_sample_loops, loops_uniform_to_mean, "\\(mean \\+ 1\\) / 2"),
    (nb13.check_13_sample_loops, loops_global_rng, "the generator passed in"),
]


def test_equivalent_right_answers_pass(capsys):
    nb13.check_13_recursion_flops(flops_tensor)
    nb13.check_13_sample_loops(loops_uniform_wide)
    out = capsys.readouterr().out
    assert out.count("✓") == 2, out


def test_reference_solutions_agree_with_course_lib():
    from course_lib.nn.mor import MoRConfig, expert_choice_select, recursion_flops
    from course_lib.nn.recurrent_depth import sample_loops

    g = torch.Generator().manual_seed(0)
    scores, eligible = torch.rand(10, generator=g), torch.rand(10, generator=g) > 0.3
    valid = torch.ones(10, dtype=torch.bool)
    for c in (1.0, 0.5, 0.3):
        ours = expert_choice_select(scores[None], eligible[None], valid[None], c)[0]
        assert torch.equal(S13.expert_choice(scores, eligible, c), ours)
    depth = torch.tensor([[3, 1, 2, 1, 3, 0]])
    cfg = MoRConfig(d_model=8, n_heads=2, d_ff=16, routing="fixed")
    assert S13.recursion_flops(depth[0], 8, 16, 3) == recursion_flops(cfg, depth)
    assert S13.sample_loops(4, torch.Generator().manual_seed(3)) == sample_loops(
        4, torch.Generator().manual_seed(3)
    )
