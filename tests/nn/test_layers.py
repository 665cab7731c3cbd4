"""course_lib.nn.layers: attention from scratch, masks, sublayers and their parameter counts.

The comparison with PyTorch's own attention and TransformerEncoderLayer is in test_parity;
here the pieces are checked one by one: the ``impl`` switch of MultiHeadSelfAttention,
what each mask lets through, pre-LN vs post-LN, and every count formula against the
tensors it describes.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.config import ModelConfig
from course_lib.nn.layers import (
    Block,
    FeedForward,
    MultiHeadSelfAttention,
    Sublayer,
    attention_parameter_count,
    block_parameter_count,
    causal_mask,
    ffn_parameter_count,
    make_block,
    scaled_dot_product_attention,
)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def twin_attention(d=32, h=4, seed=0):
    """The same weights twice: one manual, one through PyTorch's fused kernel."""
    torch.manual_seed(seed)
    manual = MultiHeadSelfAttention(d, h, impl="manual")
    sdpa = MultiHeadSelfAttention(d, h, impl="sdpa")
    sdpa.load_state_dict(manual.state_dict())
    return manual.eval(), sdpa.eval()


# ------------------------------------------------------------------ the impl switch


@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding"])
def test_manual_and_sdpa_heads_agree(mask_kind):
    manual, sdpa = twin_attention()
    x = torch.randn(3, 6, 32)
    if mask_kind == "causal":
        mask = causal_mask(6)
    elif mask_kind == "padding":  # (B, 1, 1, T): the layout TransformerEncoder passes
        lengths = torch.tensor([6, 4, 1])
        mask = (torch.arange(6)[None, :] < lengths[:, None])[:, None, None, :]
    else:
        mask = None
    with torch.no_grad():
        torch.testing.assert_close(manual(x, mask), sdpa(x, mask), atol=1e-5, rtol=1e-5)


def test_the_switch_is_read_at_every_forward():
    """``impl`` is plain data: flipping it on a built module changes the path, not the result."""
    manual, _ = twin_attention(seed=3)
    x = torch.randn(2, 5, 32)
    with torch.no_grad():
        before = manual(x, causal_mask(5))
        manual.impl = "sdpa"
        after = manual(x, causal_mask(5))
    torch.testing.assert_close(before, after, atol=1e-5, rtol=1e-5)


def test_heads_are_independent_slices_of_the_width():
    """Head j reads only columns j*d_h:(j+1)*d_h of q, k and v: zeroing another head's
    value projection leaves head j's output columns (before out_proj) unchanged."""
    torch.manual_seed(1)
    d, h = 16, 4
    attn = MultiHeadSelfAttention(d, h).eval()
    attn.out_proj = nn.Identity()  # look at the heads side by side
    x = torch.randn(2, 5, d)
    with torch.no_grad():
        before = attn(x)
        attn.v_proj.weight[4:8] = 0.0  # head 1's values
        attn.v_proj.bias[4:8] = 0.0
        after = attn(x)
    torch.testing.assert_close(after[..., :4], before[..., :4])
    torch.testing.assert_close(after[..., 8:], before[..., 8:])
    assert torch.count_nonzero(after[..., 4:8]) == 0
    assert torch.count_nonzero(before[..., 4:8]) > 0


def test_attention_dropout_only_in_training_mode():
    torch.manual_seed(2)
    attn = MultiHeadSelfAttention(16, 2, dropout=0.5)
    x = torch.randn(2, 7, 16)
    attn.eval()
    with torch.no_grad():
        assert torch.equal(attn(x), attn(x))  # eval: deterministic, no dropout
        attn.train()
        a, b = attn(x), attn(x)
    assert not torch.equal(a, b)


def test_dropout_acts_on_probabilities_and_keeps_their_expectation():
    """Each kept probability is scaled by 1/(1-p): averaged over many draws, the output
    is the no-dropout output; a single draw is not."""
    torch.manual_seed(0)
    q, k = torch.randn(1, 1, 4, 8), torch.randn(1, 1, 4, 8)
    v = torch.eye(4).reshape(1, 1, 4, 4)  # the output rows *are* the attention weights
    exact = scaled_dot_product_attention(q, k, v)
    draws = torch.stack([scaled_dot_product_attention(q, k, v, dropout_p=0.3) for _ in range(4000)])
    assert not torch.allclose(draws[0], exact)
    torch.testing.assert_close(draws.mean(0), exact, atol=0.02, rtol=0.0)
    kept = draws[draws != 0]
    ratios = kept / exact.expand_as(draws)[draws != 0]
    torch.testing.assert_close(ratios, torch.full_like(ratios, 1 / 0.7))


# ------------------------------------------------------------------ masks


def test_causal_mask_is_lower_triangular_boolean():
    m = causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    assert m.tolist() == [
        [True, False, False, False],
        [True, True, False, False],
        [True, True, True, False],
        [True, True, True, True],
    ]
    assert causal_mask(1).tolist() == [[True]]


def test_causal_attention_never_reads_the_future():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 6, 8) for _ in range(3))
    out = scaled_dot_product_attention(q, k, v, causal_mask(6))
    k2, v2 = k.clone(), v.clone()
    k2[..., 4:, :] += 10.0  # change positions 4 and 5 only
    v2[..., 4:, :] -= 10.0
    out2 = scaled_dot_product_attention(q, k2, v2, causal_mask(6))
    torch.testing.assert_close(out2[..., :4, :], out[..., :4, :])
    assert not torch.allclose(out2[..., 4:, :], out[..., 4:, :])
    # the first query sees only the first key: its output is exactly that value
    torch.testing.assert_close(out[..., 0, :], v[..., 0, :])


def test_masked_keys_get_zero_weight_and_rows_still_sum_to_one():
    torch.manual_seed(0)
    q, k = torch.randn(2, 1, 5, 4), torch.randn(2, 1, 5, 4)
    v = torch.eye(5).expand(2, 1, 5, 5)  # output = the weights themselves
    keep = torch.tensor([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    w = scaled_dot_product_attention(q, k, v, keep[:, None, None, :])
    assert torch.all(w[0, ..., 2] == 0) and torch.all(w[0, ..., 4] == 0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 1, 5))
    assert torch.all(w[1] > 0)


def test_scores_are_scaled_by_sqrt_d():
    """With one key per query the softmax is 1; with two, the weights must be
    softmax(q.k / sqrt(d)), not softmax(q.k)."""
    d = 16
    q = torch.ones(1, 1, 1, d)
    k = torch.stack([torch.zeros(d), torch.full((d,), 0.25)]).reshape(1, 1, 2, d)
    v = torch.eye(2).reshape(1, 1, 2, 2)
    w = scaled_dot_product_attention(q, k, v)
    logits = torch.tensor([0.0, 0.25 * d / math.sqrt(d)])
    torch.testing.assert_close(w.reshape(2), torch.softmax(logits, 0))


# ------------------------------------------------------------------ sublayers


class Doubler(nn.Module):
    def forward(self, x, *args):
        return 2 * x


@pytest.mark.parametrize("norm_first", [True, False])
def test_sublayer_is_pre_ln_or_post_ln(norm_first):
    torch.manual_seed(0)
    sub = Sublayer(8, Doubler(), norm_first=norm_first)
    with torch.no_grad():  # a LayerNorm that is not the identity, so the order shows
        sub.norm.weight.uniform_(0.5, 1.5)
        sub.norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(3, 4, 8)
    y = sub(x)
    expected = x + 2 * sub.norm(x) if norm_first else sub.norm(3 * x)
    torch.testing.assert_close(y, expected)
    assert y.shape == x.shape


def test_sublayer_passes_the_mask_on_to_its_function():
    seen = []

    class Spy(nn.Module):
        def forward(self, x, mask=None):
            seen.append(mask)
            return x

    mask = causal_mask(3)
    Sublayer(4, Spy(), norm_first=True)(torch.randn(1, 3, 4), mask)
    assert seen == [mask]


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("impl", ["manual", "sdpa"])
def test_block_keeps_the_shape_and_is_attention_then_ffn(norm_first, impl):
    torch.manual_seed(0)
    block = make_block(24, 3, 40, norm_first=norm_first, impl=impl).eval()
    x = torch.randn(2, 7, 24)
    with torch.no_grad():
        y = block(x, causal_mask(7))
        by_hand = block.ffn(block.attn(x, causal_mask(7)))
    assert y.shape == (2, 7, 24)
    torch.testing.assert_close(y, by_hand)


def test_post_ln_output_is_normalised_pre_ln_is_not():
    torch.manual_seed(0)
    x = 5 * torch.randn(2, 6, 32) + 3
    with torch.no_grad():
        post = make_block(32, 4, 64, norm_first=False).eval()(x)
        pre = make_block(32, 4, 64, norm_first=True).eval()(x)
    torch.testing.assert_close(post.mean(-1), torch.zeros(2, 6), atol=1e-5, rtol=0)
    torch.testing.assert_close(post.std(-1, unbiased=False), torch.ones(2, 6), atol=1e-3, rtol=0)
    assert pre.mean(-1).abs().mean() > 1.0  # the residual stream keeps x's offset


def test_blocks_built_from_one_sublayer_hold_one_tensor():
    attn = Sublayer(16, MultiHeadSelfAttention(16, 2), norm_first=True)
    a = Block(attn, Sublayer(16, FeedForward(16, 32), True))
    b = Block(attn, Sublayer(16, FeedForward(16, 32), True))
    stack = nn.ModuleList([a, b])
    assert a.attn.fn.q_proj.weight is b.attn.fn.q_proj.weight
    assert n_params(stack) == attention_parameter_count(16) + 2 * ffn_parameter_count(16, 32)


@pytest.mark.parametrize("activation, kind", [("gelu", "none"), ("gelu_tanh", "tanh")])
def test_gelu_variants(activation, kind):
    act = FeedForward(8, 16, activation=activation).act
    assert isinstance(act, nn.GELU) and act.approximate == kind
    assert isinstance(FeedForward(8, 16, activation="relu").act, nn.ReLU)
    x = torch.linspace(-3, 3, 13)
    torch.testing.assert_close(act(x), F.gelu(x, approximate=kind))


# ------------------------------------------------------------------ parameter counts


@pytest.mark.parametrize("d, h, ff", [(8, 2, 16), (24, 3, 40), (64, 8, 256), (256, 4, 1024)])
def test_count_formulas_equal_the_tensors(d, h, ff):
    attn = Sublayer(d, MultiHeadSelfAttention(d, h), True)
    assert n_params(attn) == attention_parameter_count(d)
    assert n_params(Sublayer(d, FeedForward(d, ff), False)) == ffn_parameter_count(d, ff)
    assert n_params(make_block(d, h, ff)) == block_parameter_count(d, ff)
    # the module docstring's closed form: 4d^2 + 2*d*d_ff + 9d + d_ff
    assert block_parameter_count(d, ff) == 4 * d * d + 2 * d * ff + 9 * d + ff


def test_counts_do_not_depend_on_heads_norm_order_impl_or_activation():
    counts = {
        n_params(make_block(32, h, 48, norm_first=nf, activation=act, impl=impl))
        for h in (1, 2, 4, 8)
        for nf in (True, False)
        for act in ("gelu", "relu", "gelu_tanh")
        for impl in ("manual", "sdpa")
    }
    assert counts == {block_parameter_count(32, 48)}


def test_every_linear_layer_has_a_bias_and_every_sublayer_a_layernorm():
    block = make_block(16, 2, 32)
    linears = [m for m in block.modules() if isinstance(m, nn.Linear)]
    norms = [m for m in block.modules() if isinstance(m, nn.LayerNorm)]
    assert len(linears) == 6 and all(m.bias is not None for m in linears)
    assert len(norms) == 2


# ------------------------------------------------------------------ bad inputs


def test_heads_that_do_not_divide_the_width_are_refused_with_a_message():
    with pytest.raises(AssertionError, match="d_model must be divisible by n_heads"):
        MultiHeadSelfAttention(30, 4)
    with pytest.raises(ValueError, match=r"^d_model=30 is not allowed: .*n_heads=4"):
        ModelConfig(d_model=30, n_heads=4)


def test_a_mask_that_hides_every_key_gives_zeros_in_the_manual_path():
    """A batch row made only of padding: the manual path returns zeros for it (no NaN
    that would spread through the residual stream), and the other row is untouched."""
    manual, _ = twin_attention()
    x = torch.randn(2, 4, 32)
    keep = torch.tensor([[0, 0, 0, 0], [1, 1, 1, 0]], dtype=torch.bool)[:, None, None, :]
    with torch.no_grad():
        y = manual(x, keep)
        alone = manual(x[1:], keep[1:])
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y[0], manual.out_proj.bias.expand(4, 32))  # zeros, then out_proj
    torch.testing.assert_close(y[1:], alone)


def test_a_float_mask_is_not_taken_for_a_boolean_one():
    """The mask is boolean (True = may attend); ``~`` on a float mask is an error, not a
    silent misreading of 1.0/0.0."""
    q = k = v = torch.randn(1, 1, 3, 4)
    with pytest.raises(TypeError):
        scaled_dot_product_attention(q, k, v, torch.ones(3, 3))


def test_an_unknown_activation_is_refused_by_name_not_replaced_by_relu():
    with pytest.raises(ValueError, match=r"activation='gleu' is not allowed: choose one of"):
        FeedForward(8, 16, activation="gleu")
