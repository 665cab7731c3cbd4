"""Sandwich, relaxed (LoRA) and Universal-Transformer stacks: exact counts, real sharing."""

import pytest
import torch

from course_lib import ModelConfig, build_model, count_parameters, count_parameters_per_use
from course_lib.nn.variants import (
    build_relaxed,
    build_sandwich,
    build_universal,
    build_variant,
    lora_parameter_count,
    sandwich_plan,
    variant_parameter_count,
)

D, FF = 256, 1024
BLOCK = 789_760


def small(**kw):
    base = dict(vocab_size=50, d_model=16, n_heads=2, d_ff=32, n_layers=6, max_len=12)
    return ModelConfig(**{**base, **kw})


def test_sandwich_plan_layout():
    plan = sandwich_plan(12)
    assert plan.attn_ids == (0,) + (1,) * 10 + (2,)
    assert plan.n_attn == plan.n_ffn == 3
    plan = sandwich_plan(8, n_middle=2)
    assert plan.attn_ids == (0, 1, 1, 1, 2, 2, 2, 3)


@pytest.mark.parametrize(
    "bad", [dict(n_layers=2), dict(n_layers=6, n_middle=5), dict(n_layers=6, n_middle=0)]
)
def test_sandwich_plan_rejects_bad_sizes_naming_the_field(bad):
    field = "n_middle" if "n_middle" in bad else "n_layers"
    with pytest.raises(ValueError, match=field):
        sandwich_plan(**bad)


@pytest.mark.parametrize("task", ["classify", "lm"])
@pytest.mark.parametrize(
    "variant, options",
    [
        ("sandwich", {}),
        ("sandwich", {"n_middle": 2}),
        ("relaxed", {"rank": 1}),
        ("relaxed", {"rank": 3}),
        ("universal", {"timestep": "learned"}),
        ("universal", {"timestep": "sinusoidal"}),
    ],
)
def test_formula_equals_counted(task, variant, options):
    for cfg in (small(task=task), small(task=task, norm_first=False, embed_dim=8)):
        model = build_variant(cfg, variant, **options)
        assert count_parameters(model) == variant_parameter_count(cfg, variant, **options)


def test_counts_at_the_course_size():
    cfg = ModelConfig(d_model=D, n_heads=4, d_ff=FF, n_layers=12)
    n_all = count_parameters(build_model(cfg.replace(sharing="all")))
    assert count_parameters(build_sandwich(cfg)) == n_all + 2 * BLOCK
    assert count_parameters(build_universal(cfg)) == n_all + 12 * D
    assert lora_parameter_count(cfg, 8) == 8 * (10 * D + 2 * FF) == 36_864
    relaxed = build_relaxed(cfg.replace(sharing="all"), rank=8)
    assert count_parameters(relaxed) == n_all + 12 * 36_864


def test_sandwich_middle_layers_are_one_object():
    layers = build_sandwich(small(n_layers=5)).stack.layers
    assert layers[1] is layers[2] is layers[3]
    assert layers[0] is not layers[1] and layers[4] is not layers[3]


def test_universal_uses_one_block_n_times():
    cfg = small(n_layers=5)
    model = build_universal(cfg)
    blocks = model.stack.base.layers
    assert all(b is blocks[0] for b in blocks)
    per_use = count_parameters_per_use(model)
    assert per_use - count_parameters(model) == 4 * count_parameters(blocks[0])


def test_universal_timestep_changes_the_output():
    torch.manual_seed(0)
    model = build_universal(small(n_layers=3)).eval()
    ids = torch.randint(2, 50, (2, 7))
    before = model(ids)
    with torch.no_grad():
        model.stack.step_emb.zero_()
    assert not torch.allclose(before, model(ids))


def test_relaxed_starts_equal_to_shared_and_lora_moves_it():
    cfg = small(sharing="all")
    torch.manual_seed(0)
    relaxed = build_relaxed(cfg, rank=2).eval()
    shared = build_model(cfg).eval()
    shared.load_state_dict(
        {
            k.replace("stack.base.", "stack."): v
            for k, v in relaxed.state_dict().items()
            if "lora" not in k
        }
    )
    ids = torch.randint(2, 50, (3, 9))
    torch.testing.assert_close(relaxed(ids), shared(ids))  # B = 0 at init
    with torch.no_grad():
        relaxed.stack.lora[2]["ffn_fn_fc1"].B.normal_()
    assert not torch.allclose(relaxed(ids), shared(ids))


def test_relaxed_gradients_reach_shared_weights_and_each_lora():
    torch.manual_seed(0)
    model = build_relaxed(small(sharing="all", n_layers=3), rank=2)
    with torch.no_grad():
        for deltas in model.stack.lora:
            for delta in deltas.values():
                delta.B.normal_(std=0.1)
    model(torch.randint(2, 50, (2, 5))).sum().backward()
    shared_w = model.stack.base.layers[0].attn.fn.q_proj.weight
    assert shared_w.grad is not None and shared_w.grad.abs().sum() > 0
    for deltas in model.stack.lora:
        assert deltas["attn_fn_q_proj"].A.grad.abs().sum() > 0


def test_relaxed_on_a_cycle_plan_keeps_m_blocks():
    cfg = small(sharing="cycle", n_blocks=2)
    model = build_relaxed(cfg, rank=1)
    assert len({id(b) for b in model.stack.base.layers}) == 2


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: build_relaxed(small(), rank=0), "rank"),
        (lambda: build_relaxed(small(), rank=17), "rank"),
        (lambda: build_universal(small(), timestep="fixed"), "timestep"),
        (lambda: build_variant(small(), "looped"), "variant"),
        (lambda: variant_parameter_count(small(), "looped"), "variant"),
    ],
)
def test_bad_options_name_the_field(call, field):
    with pytest.raises(ValueError, match=f"^{field}="):
        call()
