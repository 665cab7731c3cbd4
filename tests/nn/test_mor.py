"""Notebook 13's mechanisms do what the papers say: Mixture-of-Recursions routers (Bae et al.
2025) respect their capacity and let every token through the first recursion; random-depth
training (Geiping et al. 2025) really draws a loop count per batch and runs that many."""

import math

import pytest
import torch

from course_lib.nn.mor import (
    MoRClassifier,
    MoRConfig,
    capacity_ok,
    expert_choice_select,
    mor_parameter_count,
    recursion_flops,
)
from course_lib.nn.recurrent_depth import (
    RecurrentDepthConfig,
    RecurrentDepthModel,
    band_mask,
    effective_depth,
    prefix_parity_batch,
    recurrent_parameter_count,
    sample_loops,
)
from course_lib.training.loops import train_recurrent

SMALL = MoRConfig(vocab_size=50, d_model=16, n_heads=2, d_ff=32, max_len=12)


def _ids(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, 50, (6, 12), generator=g)
    for row, n in enumerate((12, 9, 5, 3, 1, 7)):  # padding (id 0) after n real tokens
        ids[row, n:] = 0
    return ids


def test_expert_choice_keeps_the_top_capacity_share_of_eligible_tokens():
    g = torch.Generator().manual_seed(1)
    scores = torch.rand(4, 10, generator=g)
    valid = torch.arange(10)[None, :] < torch.tensor([[10], [7], [4], [1]])
    eligible = valid & (torch.rand(4, 10, generator=g) > 0.2)
    for capacity in (1.0, 0.5, 1 / 3, 0.1):
        chosen = expert_choice_select(scores, eligible, valid, capacity)
        assert not (chosen & ~eligible).any(), "a token not eligible was chosen"
        for b in range(4):
            k = min(math.ceil(capacity * int(valid[b].sum()) - 1e-6), int(eligible[b].sum()))
            assert int(chosen[b].sum()) == k, (capacity, b)
            if k:  # the chosen ones have the highest scores among the eligible
                lowest_in = scores[b][chosen[b]].min()
                left = scores[b][eligible[b] & ~chosen[b]]
                assert len(left) == 0 or left.max() <= lowest_in


@pytest.mark.parametrize("routing", ["expert", "token", "fixed"])
def test_every_token_passes_the_first_recursion_and_padding_none(routing):
    torch.manual_seed(0)
    model = MoRClassifier(SMALL.replace(routing=routing)).eval()
    ids = _ids()
    out = model(ids)
    valid = ids != 0
    assert (out.depth[valid] >= 1).all(), "a real token skipped the first recursion"
    assert (out.depth[~valid] == 0).all(), "padding was computed"
    assert out.depth.max() <= SMALL.recursions
    if routing == "fixed":
        assert (out.depth[valid] == SMALL.recursions).all()


@pytest.mark.parametrize("capacities", [(1.0, 2 / 3, 1 / 3), (1.0, 0.5), (1.0, 0.25, 0.25, 0.1)])
def test_expert_choice_respects_its_capacity_at_every_recursion(capacities):
    cfg = SMALL.replace(capacities=capacities)
    for seed in range(3):
        torch.manual_seed(seed)
        ids = _ids(seed)
        depth = MoRClassifier(cfg).eval()(ids).depth
        assert capacity_ok(cfg, ids, depth)
        n_valid = (ids != 0).sum(1)
        for r, c in enumerate(capacities):  # exactly the capacity: enough tokens are eligible
            want = torch.tensor([math.ceil(c * n - 1e-6) for n in n_valid.tolist()])
            assert torch.equal((depth > r).sum(1), want), (r, c)


def test_capacity_ok_catches_an_overfull_recursion():
    ids = _ids()
    full = torch.where(ids != 0, 3, 0)  # everyone went 3 deep: over a capacity of 1/3
    assert not capacity_ok(SMALL, ids, full)


@pytest.mark.parametrize("routing", ["expert", "token", "fixed"])
def test_parameter_count_is_exact_and_router_gets_a_gradient(routing):
    cfg = SMALL.replace(routing=routing)
    torch.manual_seed(0)
    model = MoRClassifier(cfg)
    assert mor_parameter_count(cfg) == sum(p.numel() for p in model.parameters())
    out = model(_ids())
    (out.logits.sum() + out.aux_loss).backward()
    if routing != "fixed":
        assert model.router.weight.grad.abs().sum() > 0, "the router learns nothing"


def test_recursion_flops_of_fixed_looping_by_formula():
    cfg = SMALL.replace(routing="fixed")
    depth = torch.where(_ids() != 0, 3, 0)
    d, ff = cfg.d_model, cfg.d_ff
    n = (depth > 0).sum(1).double()
    want = (3 * (2 * n * (4 * d * d + 2 * d * ff) + 4 * n * n * d)).mean().item()
    assert recursion_flops(cfg, depth) == pytest.approx(want)
    half = torch.where(depth > 0, 1, 0)
    assert recursion_flops(cfg, half) == pytest.approx(want / 3)


@pytest.mark.parametrize(
    "field,changes",
    [("capacities", {"capacities": (0.5, 0.5)}), ("capacities", {"capacities": (1.0, 0.3, 0.6)}),
     ("routing", {"routing": "random"}), ("d_model", {"d_model": 15})],
)  # fmt: skip
def test_bad_mor_config_names_the_field(field, changes):
    with pytest.raises(ValueError, match=field):
        SMALL.replace(**changes)


LOOP = RecurrentDepthConfig(d_model=16, n_heads=2, d_ff=32, window=2, max_len=16)


def _count_core_calls(model):
    calls = []
    model.core[0].register_forward_hook(lambda *_: calls.append(torch.is_grad_enabled()))
    return calls


def test_random_depth_training_draws_and_runs_a_loop_count_per_batch():
    torch.manual_seed(0)
    model = RecurrentDepthModel(LOOP)
    calls = _count_core_calls(model)
    hist = train_recurrent(model, steps=60, batch_size=8, lengths=(4, 6), mean_loops=4, seed=3)
    loops = hist["loops"]
    assert min(loops) >= 1 and len(set(loops)) >= 4, f"loop counts did not vary: {set(loops)}"
    assert abs(sum(loops) / len(loops) - 4) < 0.8, "the mean loop count is not the asked one"
    assert len(calls) == sum(loops), "the core did not run the drawn number of loops"
    fixed = train_recurrent(model, steps=5, batch_size=8, lengths=(4, 6), mean_loops=3,
                            spread="fixed", seed=3)  # fmt: skip
    assert fixed["loops"] == [3] * 5


def test_truncated_backprop_keeps_the_graph_of_the_last_loops_only():
    model = RecurrentDepthModel(LOOP)
    calls = _count_core_calls(model)
    ids, _ = prefix_parity_batch(4, 8)
    model(ids, loops=5, backprop_loops=2).sum().backward()
    assert calls == [False, False, False, True, True]


def test_loop_count_changes_depth_not_parameters():
    model = RecurrentDepthModel(LOOP.replace(n_core=2))
    assert recurrent_parameter_count(model.cfg) == sum(p.numel() for p in model.parameters())
    assert effective_depth(model.cfg, 3) == 1 + 2 * 3 + 1
    ids, _ = prefix_parity_batch(2, 8)
    assert model(ids, 1).shape == model(ids, 7).shape == (2, 8, 2)


def test_prefix_parity_and_band_mask():
    bits, parity = prefix_parity_batch(5, 9, seed=4)
    for b in range(5):
        for i in range(9):
            assert parity[b, i] == int(bits[b, : i + 1].sum()) % 2
    m = band_mask(5, 2)
    assert m[4].tolist() == [False, False, True, True, True] and not m[0, 1]


def test_sample_loops_errors_and_mean():
    g = torch.Generator().manual_seed(0)
    draws = [sample_loops(4, g) for _ in range(2000)]
    assert min(draws) >= 1 and abs(sum(draws) / 2000 - 4) < 0.2
    with pytest.raises(ValueError, match="spread"):
        sample_loops(4, g, "uniform")
    with pytest.raises(ValueError, match="mean"):
        sample_loops(0.5, g)
