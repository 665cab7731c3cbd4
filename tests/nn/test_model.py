"""course_lib.nn.model: build_model for every sharing strategy and task.

Counts against the formula over the whole strategy x task grid are in test_sharing; here
the built objects are checked against the plan that made them (every pair of layers, attention
and FFN separately), a plan passed in by hand, outputs and masks, and seeded initialisation.
"""

import itertools

import pytest
import torch
from torch import nn

from course_lib.config import BLOCK_STRATEGIES, SHARING_STRATEGIES, ModelConfig
from course_lib.nn.counts import (
    count_parameters,
    count_parameters_per_use,
    formula_parameter_count,
    shared_groups,
)
from course_lib.nn.layers import attention_parameter_count, ffn_parameter_count
from course_lib.nn.model import (
    LayerStack,
    TransformerClassifier,
    TransformerEncoder,
    TransformerLM,
    build_model,
    init_weights,
)
from course_lib.nn.sharing import SharingPlan

V, D, H, FF, N, T = 40, 16, 2, 24, 6, 10


def cfg(sharing="none", task="classify", **kw):
    m = 3 if sharing in BLOCK_STRATEGIES else None
    base = dict(vocab_size=V, d_model=D, n_heads=H, d_ff=FF, n_layers=N, max_len=T)
    return ModelConfig(**{**base, "sharing": sharing, "n_blocks": m, "task": task, **kw})


def ids(b=3, t=T, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, V, (b, t), generator=g)


# ------------------------------------------------------------------ the plan, applied


@pytest.mark.parametrize("sharing", SHARING_STRATEGIES)
def test_layers_share_exactly_what_the_plan_says(sharing):
    c = cfg(sharing)
    model = build_model(c)
    plan = SharingPlan.from_config(c)
    layers = model.stack.layers
    assert model.stack.plan == plan and len(layers) == N
    for i, j in itertools.combinations(range(N), 2):
        same_a = plan.attn_ids[i] == plan.attn_ids[j]
        same_f = plan.ffn_ids[i] == plan.ffn_ids[j]
        assert (layers[i].attn is layers[j].attn) == same_a, (i, j)
        assert (layers[i].ffn is layers[j].ffn) == same_f, (i, j)
        assert (layers[i] is layers[j]) == (same_a and same_f), (i, j)
        # the storage itself, not only the module objects
        qa, qb = layers[i].attn.fn.q_proj.weight, layers[j].attn.fn.q_proj.weight
        fa, fb = layers[i].ffn.fn.fc1.weight, layers[j].ffn.fn.fc1.weight
        assert (qa.data_ptr() == qb.data_ptr()) == same_a
        assert (fa.data_ptr() == fb.data_ptr()) == same_f


@pytest.mark.parametrize("sharing", SHARING_STRATEGIES)
def test_unique_and_per_use_counts_follow_the_plan(sharing):
    c = cfg(sharing)
    model = build_model(c)
    plan = SharingPlan.from_config(c)
    stack_unique = plan.n_attn * attention_parameter_count(D) + plan.n_ffn * ffn_parameter_count(
        D, FF
    )
    final_norm = 2 * D  # pre-LN stack
    assert count_parameters(model.stack) == stack_unique + final_norm
    per_use = N * (attention_parameter_count(D) + ffn_parameter_count(D, FF)) + final_norm
    assert count_parameters_per_use(model.stack) == per_use
    assert count_parameters(model) == formula_parameter_count(c)


@pytest.mark.parametrize("sharing", SHARING_STRATEGIES)
def test_a_shared_weight_changed_once_is_changed_everywhere(sharing):
    model = build_model(cfg(sharing))
    layers = model.stack.layers
    with torch.no_grad():
        layers[0].attn.fn.k_proj.weight.fill_(7.0)
    seen = [bool((layer.attn.fn.k_proj.weight == 7.0).all()) for layer in layers]
    plan = model.stack.plan
    assert seen == [a == plan.attn_ids[0] for a in plan.attn_ids]


def test_layer_stack_applies_a_plan_given_by_hand():
    """A plan no strategy name makes: attention in two sets (0,0,1,1), FFN alternating
    (0,1,0,1); layers 0 and 2 share the attention but not the FFN."""
    plan = SharingPlan("custom", (0, 0, 1, 1), (0, 1, 0, 1))
    stack = LayerStack(cfg(n_layers=4), plan)
    L = stack.layers
    assert stack.plan is plan
    assert L[0].attn is L[1].attn and L[2].attn is L[3].attn and L[0].attn is not L[2].attn
    assert L[0].ffn is L[2].ffn and L[1].ffn is L[3].ffn and L[0].ffn is not L[1].ffn
    assert len({id(b) for b in L}) == 4  # no two layers have the same (attn, ffn) pair
    expected = 2 * attention_parameter_count(D) + 2 * ffn_parameter_count(D, FF) + 2 * D
    assert count_parameters(stack) == expected
    x = torch.randn(2, 5, D)
    assert stack(x).shape == (2, 5, D)


def test_same_pair_of_ids_is_one_block_object():
    stack = LayerStack(cfg(n_layers=4), SharingPlan("custom", (0, 1, 0, 1), (0, 1, 0, 1)))
    assert stack.layers[0] is stack.layers[2] and stack.layers[1] is stack.layers[3]
    groups = shared_groups(stack)
    assert groups and all(len(g) == 2 for g in groups)


def test_post_ln_stack_has_no_final_norm():
    pre, post = build_model(cfg(norm_first=True)), build_model(cfg(norm_first=False))
    assert isinstance(pre.stack.final_norm, nn.LayerNorm)
    assert isinstance(post.stack.final_norm, nn.Identity)
    assert count_parameters(pre) - count_parameters(post) == 2 * D


# ------------------------------------------------------------------ tasks and shapes


@pytest.mark.parametrize("sharing", ["none", "all", "cycle_rev"])
def test_output_shapes_for_each_task(sharing):
    x = ids(b=3, t=7)
    classifier = build_model(cfg(sharing, n_classes=5))
    lm = build_model(cfg(sharing, task="lm"))
    encoder = build_model(cfg(sharing, task="encode"))
    assert type(classifier) is TransformerClassifier and classifier(x).shape == (3, 5)
    assert type(lm) is TransformerLM and lm(x).shape == (3, 7, V)
    assert type(encoder) is TransformerEncoder and encoder(x).shape == (3, 7, D)


def test_factorized_embeddings_and_tied_head():
    c = cfg(task="lm", embed_dim=8, tie_embeddings=True)
    model = build_model(c)
    assert model.embed.tok_emb.weight.shape == (V, 8)
    assert model.embed.proj.weight.shape == (D, 8)  # E -> H
    assert model.out_proj.weight.shape == (8, D)  # H -> E before the vocabulary
    assert model.lm_head.weight is model.embed.tok_emb.weight
    assert model(ids()).shape == (3, T, V)
    assert count_parameters(model) == formula_parameter_count(c)


def test_lm_is_causal():
    torch.manual_seed(0)
    lm = build_model(cfg("cycle", task="lm")).eval()
    x = ids(b=2)
    y = x.clone()
    y[:, 6:] = (y[:, 6:] % (V - 1)) + 1  # other tokens from position 6 on
    assert not torch.equal(x, y)
    with torch.no_grad():
        a, b = lm(x), lm(y)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


@pytest.mark.parametrize("impl", ["manual", "sdpa"])
def test_classifier_ignores_padding(impl):
    """Padding at the end (pad_id) changes neither the attention of real tokens nor the
    mean they are pooled by."""
    torch.manual_seed(0)
    model = build_model(cfg("attention", attn_impl=impl)).eval()
    x = ids(b=2, t=6)
    padded = torch.cat([x, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(padded), atol=1e-5, rtol=1e-5)
        mask = torch.cat([torch.ones(2, 6), torch.zeros(2, 4)], 1).long()
        other = torch.cat([x, ids(b=2, t=4, seed=9)], dim=1)  # real ids, masked out
        torch.testing.assert_close(
            model(x), model(other, attention_mask=mask), atol=1e-5, rtol=1e-5
        )


def test_manual_and_sdpa_models_agree_on_the_same_weights():
    torch.manual_seed(0)
    manual = build_model(cfg("sequence", task="lm")).eval()
    sdpa = build_model(cfg("sequence", task="lm", attn_impl="sdpa")).eval()
    sdpa.load_state_dict(manual.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(manual(ids()), sdpa(ids()), atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------ initialisation


@pytest.mark.parametrize("sharing", ["none", "all", "cycle"])
def test_init_is_deterministic_under_a_seed(sharing):
    def state(seed):
        torch.manual_seed(seed)
        return build_model(cfg(sharing)).state_dict()

    a, b, c = state(0), state(0), state(1)
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_normal_init_is_bert_s_and_biases_start_at_zero():
    torch.manual_seed(0)
    model = build_model(cfg(d_model=64, n_heads=4, d_ff=128, vocab_size=400))
    w = model.embed.tok_emb.weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.002
    biases = [m.bias for m in model.modules() if isinstance(m, nn.Linear)]
    assert biases and all(torch.count_nonzero(b) == 0 for b in biases)
    norms = [m for m in model.modules() if isinstance(m, nn.LayerNorm)]
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in norms)


def test_xavier_and_he_differ_from_normal_in_scale():
    torch.manual_seed(0)
    fc = nn.Linear(256, 64)
    w = fc.weight.detach()  # init_weights fills it in place
    init_weights(fc, "xavier")
    bound = (6 / (256 + 64)) ** 0.5
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.9 * bound
    init_weights(fc, "he")
    assert abs(float(w.std()) - (2 / 256) ** 0.5) < 0.01
    init_weights(fc, "normal")
    assert abs(float(w.std()) - 0.02) < 0.002
    assert torch.count_nonzero(fc.bias) == 0


def test_init_reaches_every_copy_of_a_shared_weight():
    """init on a shared model draws once per tensor: shared layers stay one tensor."""
    torch.manual_seed(0)
    model = build_model(cfg("all", init="xavier"))
    first = model.stack.layers[0].ffn.fn.fc2.weight
    assert all(layer.ffn.fn.fc2.weight is first for layer in model.stack.layers)


# ------------------------------------------------------------------ bad inputs


def test_a_dict_is_not_a_config():
    with pytest.raises(ValueError, match=r"^cfg=dict is not allowed: build one with ModelConfig"):
        build_model(cfg().to_dict())


def test_forward_names_the_bad_ids():
    model = build_model(cfg())
    with pytest.raises(ValueError, match=r"token id 40 is not allowed: ids must be in \[0, 39\]"):
        model(torch.full((1, 3), V))
    with pytest.raises(ValueError, match=r"length T=11 .*max_len=10"):
        model(ids(t=T + 1))
    with pytest.raises(ValueError, match=r"shape \(4,\) and dtype torch.float32"):
        model(torch.zeros(4))


def test_attention_mask_of_another_shape_and_pool_without_pooler():
    encoder = build_model(cfg(task="encode"))
    x = ids(b=2, t=5)
    with pytest.raises(ValueError, match=r"attention_mask of shape \(2, 4\) .*\(2, 5\)"):
        encoder(x, attention_mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"pool\(\) needs pooler=True"):
        encoder.pool(encoder(x))
    pooled = build_model(cfg(task="encode", pooler=True))
    assert pooled.pool(pooled(x)).shape == (2, D)
