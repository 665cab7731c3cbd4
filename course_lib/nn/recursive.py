"""Turning a trained unshared model into a shared one (notebook 12).

Two recent ways to shrink a *trained* model by sharing weights across its layers:

- **Relaxed Recursive Transformers** (Bae et al., ICLR 2025, "Relaxed Recursive
  Transformers: Effective Parameter Sharing with Layer-wise LoRA"). The N layers become
  M < N shared blocks looped N/M times (CYCLE, ``course_lib.nn.sharing``), each block
  initialised from the layers that will use it: *stepwise* (block b takes layer b*N/M)
  or *average* (the mean of its layers). Each layer i then gets a LoRA delta B_i A_i
  initialised by the truncated SVD of its residual W_i - W_shared: rank 0 is purely
  recursive, full rank gives back the original model exactly. ``RecursiveStack`` builds on
  ``course_lib.nn.variants.RelaxedStack`` (the relaxed LoRA sharing of notebook 05).
- **Basis Sharing** (Wang et al., ICLR 2025, "Basis Sharing: Cross-Layer Parameter
  Sharing for Large Language Model Compression"). One weight type of all N layers,
  stacked, is decomposed by one SVD into a shared basis (k x in) and per-layer
  coefficients (out x k); compared with a separate truncated SVD per layer at the same
  parameter count (``ranks_at_ratio``).

Biases and LayerNorm vectors are not low-rank: a relaxed layer (rank > 0) keeps an offset
v_i - v_shared for each (9d + d_ff numbers per layer), so full rank is exact; the paper's
Gemma has no biases. Every count here is exact, by formula; tests check it against the
built models and factors.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call

from course_lib.config import ModelConfig
from course_lib.nn.counts import parameter_breakdown
from course_lib.nn.layers import attention_parameter_count, ffn_parameter_count
from course_lib.nn.model import build_model, init_weights
from course_lib.nn.variants import LORA_TARGETS, RelaxedStack, lora_parameter_count

INITS = ("stepwise", "average")
VECTORS = ("attn.norm.weight", "attn.norm.bias", "attn.fn.q_proj.bias", "attn.fn.k_proj.bias",
           "attn.fn.v_proj.bias", "attn.fn.out_proj.bias", "ffn.norm.weight", "ffn.norm.bias",
           "ffn.fn.fc1.bias", "ffn.fn.fc2.bias")  # fmt: skip
METHODS = ("basis", "per_layer")  # Basis Sharing, or one truncated SVD per layer


def _key(name: str) -> str:
    return name.replace(".", "_")  # module dicts take no dots


def recursive_config(cfg: ModelConfig, n_blocks: int) -> ModelConfig:
    """The shared model of an unshared ``cfg``: N layers looping M = ``n_blocks`` blocks (CYCLE)."""
    if cfg.sharing != "none":
        raise ValueError(
            f"sharing={cfg.sharing!r} is not allowed: convert an unshared model ('none')"
        )
    if (
        isinstance(n_blocks, bool)
        or not isinstance(n_blocks, int)
        or not 1 <= n_blocks < cfg.n_layers
    ):
        raise ValueError(
            f"n_blocks={n_blocks!r} is not allowed: an integer in [1, {cfg.n_layers - 1}]"
        )
    return cfg.replace(sharing="cycle", n_blocks=n_blocks)


def shared_init(weights: list[torch.Tensor], n_blocks: int, init: str) -> list[torch.Tensor]:
    """The M block weights from the N layer weights of one name, for a CYCLE plan.

    Block b serves layers b, b+M, b+2M, ...; ``stepwise`` takes layer b*N//M (every
    (N/M)-th layer, as Bae et al.), ``average`` the mean of the layers it serves."""
    if init not in INITS:
        raise ValueError(f"init={init!r} is not allowed: choose 'stepwise' or 'average'")
    n = len(weights)
    if init == "stepwise":
        return [weights[b * n // n_blocks].clone() for b in range(n_blocks)]
    return [torch.stack(weights[b::n_blocks]).mean(0) for b in range(n_blocks)]


def truncated_svd(residual: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """B (out, r) = U_r S_r and A (r, in) = V_r^T: the best rank-r B @ A of ``residual``
    (Eckart-Young), computed in float64."""
    u, s, vh = torch.linalg.svd(residual.double(), full_matrices=False)
    b = u[:, :rank] * s[:rank]  # (out, r): directions scaled by their singular values
    return b.to(residual.dtype), vh[:rank].to(residual.dtype)  # A: (r, in)


class RecursiveStack(RelaxedStack):
    """``RelaxedStack`` (shared blocks + per-layer LoRA) that allows rank 0 and, with
    ``vectors``, a per-layer offset on every bias and LayerNorm vector."""

    def __init__(self, cfg: ModelConfig, rank: int, vectors: bool):
        super().__init__(cfg, rank)
        self.rank = rank
        first = self.base.layers[0]
        self.offsets = nn.ModuleList(
            nn.ParameterDict(
                {_key(n): nn.Parameter(torch.zeros_like(first.get_parameter(n))) for n in VECTORS}
            )  # fmt: skip
            for _ in range(cfg.n_layers if vectors else 0)
        )

    def layer_weights(self, i: int) -> dict[str, torch.Tensor]:
        """The weights layer i computes with: shared ones plus its LoRA and offsets."""
        block = self.base.layers[i]
        out = {}
        if self.rank > 0:
            for name in LORA_TARGETS:
                out[f"{name}.weight"] = (
                    block.get_submodule(name).weight + self.lora[i][_key(name)]()
                )
        for name in VECTORS if len(self.offsets) else ():
            out[name] = block.get_parameter(name) + self.offsets[i][_key(name)]
        return out

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for i, block in enumerate(self.base.layers):
            x = functional_call(block, self.layer_weights(i), (x, mask))
        return self.base.final_norm(x)


def _check_rank(cfg: ModelConfig, rank: int) -> None:
    full = min(cfg.d_model, cfg.d_ff)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank <= full:
        raise ValueError(f"rank={rank!r} is not allowed: an integer in [0, {full}] (full rank)")


def build_recursive(shared_cfg: ModelConfig, rank: int, vectors: bool | None = None) -> nn.Module:
    """A recursive model trained from scratch: ``shared_cfg``'s blocks, rank-``rank`` LoRA
    (B = 0 at first), offsets at 0; ``vectors`` defaults to rank > 0."""
    _check_rank(shared_cfg, rank)
    model = build_model(shared_cfg)
    stack = RecursiveStack(shared_cfg, rank, rank > 0 if vectors is None else vectors)
    init_weights(stack.base, shared_cfg.init)
    model.stack = stack
    return model


@torch.no_grad()
def convert(
    model: nn.Module, n_blocks: int, rank: int, init: str = "stepwise", vectors: bool | None = None
) -> nn.Module:
    """A trained unshared ``model`` as a relaxed recursive one (Bae et al. 2025): M shared
    blocks by ``init``, each layer's residual as a rank-``rank`` LoRA from its SVD."""
    cfg = model.cfg
    new = build_recursive(recursive_config(cfg, n_blocks), rank, vectors)
    for name, p in model.named_parameters():  # embeddings, head, final norm: copied
        if not name.startswith("stack.layers."):
            new.get_parameter(name.replace("stack.", "stack.base.", 1)).copy_(p)
    stack, layers = new.stack, model.stack.layers
    plan = stack.base.plan
    for name in LORA_TARGETS + VECTORS:
        pname = name if name in VECTORS else f"{name}.weight"
        own = [layer.get_parameter(pname) for layer in layers]
        shared = shared_init(own, n_blocks, init)
        for b in range(n_blocks):
            stack.base.layers[b].get_parameter(pname).copy_(shared[b])
        for i, w in enumerate(own):
            residual = w - shared[plan.attn_ids[i]]
            if name in VECTORS and len(stack.offsets):
                stack.offsets[i][_key(name)].copy_(residual)
            elif name not in VECTORS and rank > 0:
                b_mat, a_mat = truncated_svd(residual, rank)
                stack.lora[i][_key(name)].B.copy_(b_mat)
                stack.lora[i][_key(name)].A.copy_(a_mat)
    return new


def vector_parameter_count(cfg: ModelConfig) -> int:
    """Biases and LayerNorm vectors of one block: 9d + d_ff."""
    return 9 * cfg.d_model + cfg.d_ff


def recursive_parameter_count(
    cfg: ModelConfig, n_blocks: int, rank: int, vectors: bool | None = None
) -> int:
    """Exact unique parameters of ``convert(build_model(cfg), n_blocks, rank)``."""
    shared = recursive_config(cfg, n_blocks)
    _check_rank(cfg, rank)
    bd = parameter_breakdown(shared)
    outside = bd["embeddings"] + bd["head"] + (2 * cfg.d_model if cfg.norm_first else 0)
    blocks = n_blocks * (
        attention_parameter_count(cfg.d_model) + ffn_parameter_count(cfg.d_model, cfg.d_ff)
    )
    per_layer = lora_parameter_count(cfg, rank)
    per_layer += vector_parameter_count(cfg) if (rank > 0 if vectors is None else vectors) else 0
    return outside + blocks + cfg.n_layers * per_layer


# ----------------------------------------------------------------------------- Basis Sharing


def basis_share(weights: list[torch.Tensor], k: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One weight type of N layers, each (out, in), stacked to (N*out, in) and SVD'd:
    a shared basis (k, in) = V_k^T and per-layer coefficients (out, k) from U_k S_k, so
    that W_i ~ coeffs[i] @ basis (Wang et al. 2025, in PyTorch's (out, in) layout)."""
    stacked = torch.cat(weights, dim=0).double()  # (N*out, in)
    u, s, vh = torch.linalg.svd(stacked, full_matrices=False)
    coeffs = (u[:, :k] * s[:k]).to(weights[0].dtype)  # (N*out, k)
    return vh[:k].to(weights[0].dtype), list(coeffs.split(weights[0].shape[0], dim=0))


def basis_parameter_count(n_layers: int, d_out: int, d_in: int, k: int, method: str) -> int:
    """Stored numbers of one weight type: basis k*in + N*out*k, or per layer N*k*(out+in)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not allowed: choose 'basis' or 'per_layer'")
    return k * d_in + n_layers * d_out * k if method == "basis" else n_layers * k * (d_out + d_in)


def ranks_at_ratio(n_layers: int, d_out: int, d_in: int, ratio: float, method: str) -> int:
    """The largest rank k whose stored numbers fit in (1 - ratio) of the N dense matrices."""
    if not isinstance(ratio, int | float) or not 0 < ratio < 1:
        raise ValueError(f"ratio={ratio!r} is not allowed: a compression ratio in (0, 1)")
    budget = (1 - ratio) * n_layers * d_out * d_in
    top = min(n_layers * d_out, d_in) if method == "basis" else min(d_out, d_in)
    fits = [
        k
        for k in range(1, top + 1)
        if basis_parameter_count(n_layers, d_out, d_in, k, method) <= budget
    ]
    return max(fits, default=0)


@torch.no_grad()
def compress(model: nn.Module, ratio: float, method: str) -> tuple[nn.Module, int]:
    """A copy of an unshared ``model`` whose six matrix types are replaced by their
    rank-k reconstruction (``basis`` or ``per_layer``), and the numbers they store."""
    out, layers, stored = copy.deepcopy(model), model.stack.layers, 0
    for name in LORA_TARGETS:
        ws = [layer.get_submodule(name).weight for layer in layers]
        d_out, d_in = ws[0].shape
        k = ranks_at_ratio(len(ws), d_out, d_in, ratio, method)
        stored += basis_parameter_count(len(ws), d_out, d_in, k, method)
        if method == "basis":
            basis, coeffs = basis_share(ws, k)
            new = [c @ basis for c in coeffs]
        else:
            new = [torch.matmul(*truncated_svd(w, k)) for w in ws]
        for layer, w in zip(out.stack.layers, new, strict=True):
            layer.get_submodule(name).weight.copy_(w)
    return out, stored


def matrix_parameter_count(cfg: ModelConfig) -> int:
    """The dense numbers of the six matrix types over all N layers: N(4d^2 + 2 d d_ff)."""
    return cfg.n_layers * (4 * cfg.d_model**2 + 2 * cfg.d_model * cfg.d_ff)
