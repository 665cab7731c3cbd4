"""Sharing is real: same objects, exact counts, summed gradients, state_dict round trips."""

import itertools

import pytest
import torch

from course_lib import (
    ModelConfig,
    SharingPlan,
    block_parameter_count,
    build_model,
    count_parameters,
    count_parameters_per_use,
    formula_parameter_count,
    make_block,
    shares_storage,
)
from course_lib.nn.layers import attention_parameter_count, ffn_parameter_count

D, FF = 256, 1024
BLOCK = 789_760


def cfg12(sharing, n_blocks=None, **kw):
    return ModelConfig(
        vocab_size=1000, d_model=D, n_heads=4, d_ff=FF, n_layers=12,
        sharing=sharing, n_blocks=n_blocks, **kw,
    )  # fmt: skip


def test_one_block_has_789760_parameters():
    assert block_parameter_count(D, FF) == BLOCK
    assert count_parameters(make_block(D, 4, FF)) == BLOCK
    assert attention_parameter_count(D) + ffn_parameter_count(D, FF) == BLOCK


def test_none_minus_all_is_eleven_blocks():
    n_none = count_parameters(build_model(cfg12("none")))
    n_all = count_parameters(build_model(cfg12("all")))
    assert n_none - n_all == 11 * BLOCK


@pytest.mark.parametrize("strategy", ["sequence", "cycle", "cycle_rev"])
@pytest.mark.parametrize("m", [1, 2, 3, 4, 6, 12])
def test_m_block_strategies_hold_exactly_m_blocks(strategy, m):
    model = build_model(cfg12(strategy, m))
    attns = {id(layer.attn) for layer in model.stack.layers}
    ffns = {id(layer.ffn) for layer in model.stack.layers}
    assert len(attns) == len(ffns) == m
    n_all = count_parameters(build_model(cfg12("all")))
    assert count_parameters(model) == n_all + (m - 1) * BLOCK


def test_attention_and_ffn_share_only_their_half():
    n_none = count_parameters(build_model(cfg12("none")))
    att = build_model(cfg12("attention"))
    ffn = build_model(cfg12("ffn"))
    assert n_none - count_parameters(att) == 11 * attention_parameter_count(D)
    assert n_none - count_parameters(ffn) == 11 * ffn_parameter_count(D, FF)
    layers = att.stack.layers
    assert all(layer.attn is layers[0].attn for layer in layers)
    assert len({id(layer.ffn) for layer in layers}) == 12
    layers = ffn.stack.layers
    assert all(layer.ffn is layers[0].ffn for layer in layers)
    assert len({id(layer.attn) for layer in layers}) == 12


def test_per_use_count_is_the_same_for_every_plan():
    counts = {
        s: count_parameters_per_use(build_model(cfg12(s, 3 if s in ("sequence", "cycle", "cycle_rev") else None)))
        for s in ("none", "all", "attention", "ffn", "sequence", "cycle", "cycle_rev")
    }  # fmt: skip
    assert len(set(counts.values())) == 1, counts


CASES = list(
    itertools.product(
        ["none", "all", "attention", "ffn", "sequence", "cycle", "cycle_rev"],
        ["classify", "lm"],
        [None, 32],
        [True, False],
    )
)


@pytest.mark.parametrize("sharing, task, embed_dim, norm_first", CASES)
def test_formula_equals_counted(sharing, task, embed_dim, norm_first):
    for tie in [False, True] if task == "lm" else [False]:
        cfg = ModelConfig(
            vocab_size=97, d_model=64, n_heads=4, d_ff=96, n_layers=5, max_len=16,
            sharing=sharing, n_blocks=2 if sharing in ("sequence", "cycle", "cycle_rev") else None,
            task=task, embed_dim=embed_dim, tie_embeddings=tie, norm_first=norm_first,
        )  # fmt: skip
        assert count_parameters(build_model(cfg)) == formula_parameter_count(cfg)


@pytest.mark.parametrize(
    "strategy, n, m, expected",
    [
        ("sequence", 6, 3, (0, 0, 1, 1, 2, 2)),
        ("sequence", 5, 2, (0, 0, 0, 1, 1)),
        ("cycle", 6, 3, (0, 1, 2, 0, 1, 2)),
        ("cycle_rev", 6, 3, (0, 1, 2, 2, 1, 0)),
        ("cycle_rev", 9, 3, (0, 1, 2, 0, 1, 2, 2, 1, 0)),
        ("cycle_rev", 5, 3, (0, 1, 2, 2, 1)),
        ("cycle", 4, 4, (0, 1, 2, 3)),
    ],
)
def test_layer_to_block_maps(strategy, n, m, expected):
    plan = SharingPlan.make(strategy, n, m)
    assert plan.attn_ids == plan.ffn_ids == expected


def test_plan_describes_itself():
    text = SharingPlan.make("cycle_rev", 6, 3).describe()
    assert "6 layers, 3 attention + 3 FFN weight sets" in text
    assert "layer  5: attention A0  ffn F0" in text


def test_same_object_at_shared_depths():
    model = build_model(cfg12("cycle", 4))
    layers = model.stack.layers
    for i, j in itertools.combinations(range(12), 2):
        assert (layers[i] is layers[j]) == (i % 4 == j % 4)
    assert shares_storage(layers[0].attn.fn.q_proj.weight, layers[8].attn.fn.q_proj.weight)
    assert not shares_storage(layers[0].attn.fn.q_proj.weight, layers[1].attn.fn.q_proj.weight)


def small(sharing, n_blocks=None, task="classify"):
    return ModelConfig(
        vocab_size=50, d_model=32, n_heads=4, d_ff=64, n_layers=6, max_len=12,
        sharing=sharing, n_blocks=n_blocks, task=task,
    )  # fmt: skip


@pytest.mark.parametrize("sharing, m", [("all", None), ("cycle", 2), ("attention", None)])
def test_shared_gradient_is_sum_of_per_use_gradients(sharing, m):
    torch.manual_seed(0)
    shared = build_model(small(sharing, m))
    unshared = build_model(small("none"))
    # give every layer of the unshared model a copy of the weights its shared twin uses
    for i, layer in enumerate(unshared.stack.layers):
        layer.attn.load_state_dict(shared.stack.layers[i].attn.state_dict())
        layer.ffn.load_state_dict(shared.stack.layers[i].ffn.state_dict())
    unshared.embed.load_state_dict(shared.embed.state_dict())
    unshared.head.load_state_dict(shared.head.state_dict())
    unshared.stack.final_norm.load_state_dict(shared.stack.final_norm.state_dict())

    ids = torch.randint(1, 50, (4, 12))
    y = torch.tensor([0, 1, 1, 0])
    for m_ in (shared, unshared):
        torch.nn.functional.cross_entropy(m_(ids), y).backward()

    w_shared = shared.stack.layers[0].attn.fn.q_proj.weight
    uses = [
        i for i, layer in enumerate(shared.stack.layers) if layer.attn.fn.q_proj.weight is w_shared
    ]
    assert len(uses) > 1
    total = sum(unshared.stack.layers[i].attn.fn.q_proj.weight.grad for i in uses)
    torch.testing.assert_close(w_shared.grad, total, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(
    "sharing, m, task", [("all", None, "lm"), ("cycle_rev", 2, "classify"), ("ffn", None, "lm")]
)
def test_state_dict_round_trip_keeps_sharing(tmp_path, sharing, m, task):
    torch.manual_seed(0)
    cfg = small(sharing, m, task)
    model = build_model(cfg).eval()
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    fresh = build_model(cfg).eval()
    fresh.load_state_dict(torch.load(path, weights_only=True))
    layers = fresh.stack.layers
    for i, j in itertools.combinations(range(cfg.n_layers), 2):
        same_attn = model.stack.layers[i].attn is model.stack.layers[j].attn
        assert (layers[i].attn is layers[j].attn) == same_attn
        assert (
            shares_storage(layers[i].attn.fn.q_proj.weight, layers[j].attn.fn.q_proj.weight)
            == same_attn
        )
    assert count_parameters(fresh) == count_parameters(model)
    ids = torch.randint(1, 50, (3, 12))
    with torch.no_grad():
        assert torch.equal(model(ids), fresh(ids))


def test_tied_lm_head_is_the_embedding():
    cfg = small("none", task="lm").replace(tie_embeddings=True)
    model = build_model(cfg)
    assert model.lm_head.weight is model.embed.tok_emb.weight
    untied = build_model(cfg.replace(tie_embeddings=False))
    assert count_parameters(untied) - count_parameters(model) == cfg.vocab_size * cfg.d_model
