"""Our from-scratch attention and block equal PyTorch's reference implementations."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.nn.layers import causal_mask, make_block, scaled_dot_product_attention


@pytest.mark.parametrize("causal", [False, True])
def test_attention_matches_sdpa(causal):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 16) for _ in range(3))
    mask = causal_mask(7) if causal else None
    ours = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_attention_padding_mask_matches_sdpa():
    torch.manual_seed(1)
    q, k, v = (torch.randn(2, 2, 5, 8) for _ in range(3))
    keep = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    mask = keep[:, None, None, :]
    ours = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = (torch.randn(1, 1, 3, 4) for _ in range(3))
    mask = torch.zeros(3, 3, dtype=torch.bool)
    assert torch.equal(scaled_dot_product_attention(q, k, v, mask), torch.zeros(1, 1, 3, 4))


def copy_into_reference(block, ref):
    """Copy our block's weights into nn.TransformerEncoderLayer's layout."""
    attn = block.attn.fn
    with torch.no_grad():
        ref.self_attn.in_proj_weight.copy_(
            torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight])
        )
        ref.self_attn.in_proj_bias.copy_(
            torch.cat([attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias])
        )
        ref.self_attn.out_proj.weight.copy_(attn.out_proj.weight)
        ref.self_attn.out_proj.bias.copy_(attn.out_proj.bias)
        ref.linear1.load_state_dict(block.ffn.fn.fc1.state_dict())
        ref.linear2.load_state_dict(block.ffn.fn.fc2.state_dict())
        ref.norm1.load_state_dict(block.attn.norm.state_dict())
        ref.norm2.load_state_dict(block.ffn.norm.state_dict())


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("impl", ["manual", "sdpa"])
@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_block_matches_transformer_encoder_layer(norm_first, impl, activation):
    torch.manual_seed(0)
    d, h, ff = 32, 4, 64
    block = make_block(d, h, ff, norm_first=norm_first, activation=activation, impl=impl).eval()
    for p in block.parameters():  # non-trivial LayerNorm weights too
        nn.init.normal_(p, std=0.3)
    ref = nn.TransformerEncoderLayer(
        d, h, ff, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
    ).eval()
    copy_into_reference(block, ref)
    x = torch.randn(3, 9, d)
    mask = causal_mask(9)
    with torch.no_grad():
        torch.testing.assert_close(block(x), ref(x), atol=1e-5, rtol=1e-5)
        # PyTorch's mask says where attention is *forbidden*: the opposite of ours
        torch.testing.assert_close(block(x, mask), ref(x, src_mask=~mask), atol=1e-5, rtol=1e-5)
