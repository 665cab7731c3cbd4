"""course_lib.nn.recursive (notebook 12): conversion into a relaxed recursive model (Bae et al.
2025) and Basis Sharing (Wang et al. 2025) do what the papers say, with exact counts."""

import pytest
import torch

from course_lib import ModelConfig
from course_lib.nn.counts import count_parameters
from course_lib.nn.model import build_model
from course_lib.nn.recursive import (
    INITS,
    basis_parameter_count,
    basis_share,
    build_recursive,
    compress,
    convert,
    matrix_parameter_count,
    ranks_at_ratio,
    recursive_config,
    recursive_parameter_count,
    shared_init,
    truncated_svd,
)

CFG = ModelConfig(vocab_size=50, d_model=16, n_heads=2, d_ff=32, n_layers=4, max_len=12)


def trained_like(cfg=CFG, seed=0):
    """An unshared model whose layers all differ (as after training), biases included."""
    torch.manual_seed(seed)
    model = build_model(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def ids(seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(1, CFG.vocab_size, (6, 10), generator=g)
    x[:, 7:] = 0  # padding
    return x


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("n_blocks", [1, 2])
def test_full_rank_conversion_reproduces_the_unshared_model(init, n_blocks):
    model = trained_like()
    shared = convert(model, n_blocks, CFG.d_model, init).eval()
    with torch.no_grad():
        assert torch.allclose(shared(ids()), model(ids()), atol=1e-5, rtol=0)


def test_rank_zero_is_purely_recursive_and_differs():
    model = trained_like()
    shared = convert(model, 2, 0).eval()
    layers = shared.stack.base.layers
    assert layers[0] is layers[2] and layers[1] is layers[3]  # CYCLE: 0 1 0 1
    assert len(shared.stack.offsets) == 0 and shared.stack.layer_weights(0) == {}
    with torch.no_grad():
        assert (shared(ids()) - model(ids())).abs().max() > 1e-3


def test_weight_error_shrinks_as_the_rank_grows():
    """Eckart-Young per layer: a larger rank leaves less of each residual out."""
    model = trained_like()
    original = model.stack.layers
    errs = []
    for rank in (1, 4, 16):
        stack = convert(model, 2, rank).stack
        with torch.no_grad():
            errs.append(sum(float((w - original[i].get_parameter(n)).norm())
                            for i in range(CFG.n_layers)
                            for n, w in stack.layer_weights(i).items()))  # fmt: skip
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-4


def test_stepwise_and_average_initialisation():
    ws = [torch.full((2, 2), float(i)) for i in range(6)]
    assert [float(w[0, 0]) for w in shared_init(ws, 3, "stepwise")] == [0.0, 2.0, 4.0]
    assert [float(w[0, 0]) for w in shared_init(ws, 3, "average")] == [1.5, 2.5, 3.5]
    with pytest.raises(ValueError, match="init='lower' is not allowed"):
        shared_init(ws, 3, "lower")


def test_truncated_svd_is_the_best_low_rank_approximation():
    torch.manual_seed(0)
    w = torch.randn(8, 5)
    b, a = truncated_svd(w, 2)
    assert b.shape == (8, 2) and a.shape == (2, 5)
    s = torch.linalg.svdvals(w.double())
    err = torch.linalg.matrix_norm((w - b @ a).double())  # Eckart-Young: the tail's energy
    assert torch.isclose(err, s[2:].pow(2).sum().sqrt(), atol=1e-5)


@pytest.mark.parametrize("rank", [0, 1, 3, 16])
@pytest.mark.parametrize("n_blocks", [1, 2, 3])
def test_parameter_counts_are_exact(rank, n_blocks):
    assert count_parameters(convert(trained_like(), n_blocks, rank)) == recursive_parameter_count(
        CFG, n_blocks, rank
    )
    scratch = build_recursive(recursive_config(CFG, n_blocks), rank)
    assert count_parameters(scratch) == recursive_parameter_count(CFG, n_blocks, rank)


def test_scratch_model_starts_purely_recursive_and_trains_every_part():
    model = build_recursive(recursive_config(CFG, 2), 4)
    assert all(
        float(d.B.detach().abs().max()) == 0 for layer in model.stack.lora for d in layer.values()
    )
    model(ids()).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.dim() > 1)


def test_bad_inputs_name_the_field():
    with pytest.raises(ValueError, match="rank=17 is not allowed"):
        convert(trained_like(), 2, 17)
    with pytest.raises(ValueError, match="n_blocks=4 is not allowed"):
        recursive_config(CFG, 4)
    with pytest.raises(ValueError, match="sharing='all' is not allowed"):
        recursive_config(CFG.replace(sharing="all"), 2)
    with pytest.raises(ValueError, match="ratio=1.5 is not allowed"):
        ranks_at_ratio(4, 8, 8, 1.5, "basis")
    with pytest.raises(ValueError, match="method='tucker' is not allowed"):
        basis_parameter_count(4, 8, 8, 2, "tucker")


def test_basis_sharing_shares_one_basis_and_is_exact_at_full_rank():
    torch.manual_seed(0)
    ws = [torch.randn(6, 4) for _ in range(3)]
    basis, coeffs = basis_share(ws, 4)
    assert basis.shape == (4, 4) and [c.shape for c in coeffs] == [(6, 4)] * 3
    assert all(torch.allclose(c @ basis, w, atol=1e-5) for c, w in zip(coeffs, ws, strict=True))
    basis, coeffs = basis_share(ws, 2)
    stored = basis.numel() + sum(c.numel() for c in coeffs)
    assert stored == basis_parameter_count(3, 6, 4, 2, "basis")


def test_basis_beats_per_layer_when_layers_share_a_subspace():
    """The paper's premise: layers whose weights span a common subspace compress better
    with one basis than with a separate SVD each, at equal stored numbers."""
    torch.manual_seed(0)
    common = torch.randn(3, 24)  # a rank-3 input subspace every layer uses
    ws = [torch.randn(24, 3) @ common + 0.01 * torch.randn(24, 24) for _ in range(4)]
    kb = ranks_at_ratio(4, 24, 24, 0.8, "basis")
    kl = ranks_at_ratio(4, 24, 24, 0.8, "per_layer")
    basis, coeffs = basis_share(ws, kb)
    err_basis = sum(
        torch.linalg.matrix_norm(c @ basis - w) for c, w in zip(coeffs, ws, strict=True)
    )
    err_layer = sum(torch.linalg.matrix_norm(torch.matmul(*truncated_svd(w, kl)) - w) for w in ws)
    assert basis_parameter_count(4, 24, 24, kb, "basis") <= 0.2 * 4 * 24 * 24
    assert kb > kl and err_basis < 0.5 * err_layer


@pytest.mark.parametrize("method", ["basis", "per_layer"])
def test_compress_stores_at_most_the_ratio(method):
    model = trained_like()
    for ratio in (0.2, 0.5):
        small, stored = compress(model, ratio, method)
        assert stored <= (1 - ratio) * matrix_parameter_count(CFG)
        assert stored > (1 - ratio - 0.15) * matrix_parameter_count(CFG)
        with torch.no_grad():
            assert (small(ids()) - model(ids())).abs().max() > 0  # a real approximation
    assert count_parameters(model) == count_parameters(small)  # the copy, the original untouched
