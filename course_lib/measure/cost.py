"""What a model costs, measured: FLOPs, memory and time per sharing plan (notebook 08).

Sharing changes which tensors exist, not which operations run. So we expect, at equal
depth N: the same FLOPs per token, the same activation memory and (up to cache effects)
the same time; parameter, gradient and optimizer-state memory fall with the unique
parameter count. Every function here measures one of those so the notebook can check it.

- FLOPs: counted analytically from the config (``analytic_flops``) and by
  ``torch.utils.flop_counter.FlopCounterMode`` on a real forward pass (``counted_flops``);
  the two agree exactly. The rule of thumb "forward FLOPs per token = 2 x parameters"
  (Kaplan et al. 2020, Table 1) holds for *per-use* parameters, plus attention scores.
- Memory: parameters, gradients and AdamW's two states from the actual tensors after
  one real optimizer step (each shared tensor once); activations as the bytes autograd
  saves for backward (``torch.autograd.graph.saved_tensors_hooks``), and on CUDA the peak.
- Time: closures for a training step and an inference call (``train_step_fn``,
  ``inference_fn``), timed by ``course_lib.measure.timing`` (interleaved rounds, median of
  per-round ratios, a noise floor from an identical twin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from course_lib.config import ModelConfig
from course_lib.data.synthetic import synthetic_batch
from course_lib.measure.timing import median_time
from course_lib.nn.counts import count_parameters, count_parameters_per_use
from course_lib.training.step import batch_loss, train_step

aten = torch.ops.aten

# PyTorch's counter knows the CUDA attention kernels but not the CPU one; same formulas.
_CPU_SDPA = {
    aten._scaled_dot_product_flash_attention_for_cpu: (
        lambda q, k, v, *args, out_shape=None, **kw: sdpa_flop_count(q, k, v)
    ),
    aten._scaled_dot_product_flash_attention_for_cpu_backward: (
        lambda g, q, k, v, *args, out_shape=None, **kw: sdpa_backward_flop_count(g, q, k, v)
    ),
}


# ----------------------------------------------------------------------------- FLOPs
@dataclass(frozen=True)
class FlopReport:
    """Forward FLOPs of one batch (a multiply-add counts 2), by where they happen."""

    attn_proj: int  # Q, K, V and output projections: 4 * 2d^2 per token per layer
    attn_scores: int  # QK^T and weights @ V: 2 * 2Td per token per layer
    ffn: int  # fc1 and fc2: 2 * 2 d d_ff per token per layer
    embed_proj: int  # E -> H factorization projection (ALBERT), 0 without it
    head: int  # classifier (once per sequence) or H -> E projection + LM head
    tokens: int  # batch * seq_len

    @property
    def total(self) -> int:
        return self.attn_proj + self.attn_scores + self.ffn + self.embed_proj + self.head

    @property
    def per_token(self) -> float:
        return self.total / self.tokens


def analytic_flops(cfg: ModelConfig, batch_size: int, seq_len: int) -> FlopReport:
    """Forward matmul FLOPs of ``build_model(cfg)`` from the config alone.

    Counts what FlopCounterMode counts: matrix products, 2 FLOPs per multiply-add, the full
    T x T score matrix even under a causal mask; biases, LayerNorm, softmax and GELU are
    not counted (they are O(d) per token, not O(d^2)). Depends on N = n_layers only, never
    on the sharing plan or n_blocks.
    """
    n, d, ff, e = cfg.n_layers, cfg.d_model, cfg.d_ff, cfg.d_embed
    tokens = batch_size * seq_len
    head = 2 * d * cfg.n_classes * batch_size if cfg.task == "classify" else 0
    if cfg.task == "classify" and cfg.pooler:  # (an encoder runs its pooler apart)
        head += 2 * d * d * batch_size  # the pooler: first token, H -> H
    if cfg.task == "lm":
        head = tokens * (2 * e * cfg.vocab_size + (2 * d * e if e != d else 0))
    return FlopReport(
        attn_proj=n * tokens * 4 * 2 * d * d,
        attn_scores=n * tokens * 2 * 2 * seq_len * d,
        ffn=n * tokens * 2 * 2 * d * ff,
        embed_proj=tokens * 2 * e * d if e != d else 0,
        head=head,
        tokens=tokens,
    )


def counted_flops(model: nn.Module, ids: torch.Tensor, backward: bool = False) -> int:
    """FLOPs of ``model(ids)`` (and its backward) counted op by op by FlopCounterMode."""
    with FlopCounterMode(display=False, custom_mapping=_CPU_SDPA) as counter:
        out = model(ids)
        if backward:
            out.float().sum().backward()
    return counter.get_total_flops()


def rule_of_thumb_flops(model: nn.Module, cfg: ModelConfig, seq_len: int) -> dict[str, float]:
    """Kaplan et al.'s rule, 2 x per-use non-embedding parameters + attention scores.

    Kaplan et al. (2020) write C_forward = 2N + 2 n_layer n_ctx d_attn. We use per-use
    parameters (a block used twice costs twice) and 4 N T d for the scores, because a
    dense kernel computes both QK^T and weights @ V over all T x T pairs. The rule
    over-counts biases and LayerNorm (2 FLOPs each, not counted as matmul FLOPs) and
    counts a classifier head per token although it runs once per sequence.
    """
    uses = [
        p
        for name, p in model.named_parameters(remove_duplicate=False)
        if not name.startswith(("embed.tok_emb.", "embed.pos_emb."))  # lookups: 0 FLOPs
    ]
    per_use = sum(p.numel() for p in uses)
    scores = 4 * cfg.n_layers * seq_len * cfg.d_model
    return {
        "per_use_nonembedding_params": per_use,
        "per_use_bias_and_norm_params": sum(p.numel() for p in uses if p.dim() == 1),
        "rule_flops_per_token": 2 * per_use + scores,
        "attention_score_flops_per_token": scores,
    }


# ---------------------------------------------------------------------------- memory
def _unique_bytes(tensors) -> int:
    seen, total = set(), 0
    for t in tensors:
        key = (t.untyped_storage().data_ptr(), t.device)
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


@dataclass(frozen=True)
class StateMemory:
    """Bytes that live as long as the model trains, each shared tensor counted once."""

    params: int
    grads: int
    optimizer: int  # AdamW: exp_avg + exp_avg_sq (+ a 4-byte step per tensor)

    @property
    def total(self) -> int:
        return self.params + self.grads + self.optimizer


def state_memory(model: nn.Module, optimizer: torch.optim.Optimizer) -> StateMemory:
    """Parameter, gradient and optimizer-state bytes as they are now (after a real step)."""
    params = list(model.parameters())  # unique tensors: a shared one appears once
    states = [
        v for s in optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor)
    ]
    return StateMemory(
        params=_unique_bytes(params),
        grads=_unique_bytes(p.grad for p in params if p.grad is not None),
        optimizer=_unique_bytes(states),
    )


def training_state_memory(model: nn.Module, ids, y, lr: float = 1e-3) -> StateMemory:
    """Take one real AdamW step on (ids, y) (``training.step.train_step``, unchecked), then
    measure ``state_memory``."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    train_step(model, opt, ids, y, step=0, lr=lr, check=None)
    return state_memory(model, opt)


def activation_memory(model: nn.Module, ids: torch.Tensor, y: torch.Tensor) -> dict[str, int]:
    """Bytes autograd keeps for backward during one forward + loss, parameters excluded.

    ``saved_bytes`` sums each saved storage once (a pack hook sees every tensor an op
    saves); it is exact and the same on every machine. On CUDA ``peak_bytes`` adds
    ``max_memory_allocated`` above what was allocated before the forward pass.
    """
    param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: list[torch.Tensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.untyped_storage().data_ptr() not in param_ptrs:
            saved.append(t)
        return t

    cuda = ids.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = batch_loss(model, ids, y)
    out = {"saved_bytes": _unique_bytes(saved)}
    if cuda:
        torch.cuda.synchronize()
        out["peak_bytes"] = torch.cuda.max_memory_allocated() - before
    del loss
    return out


# ------------------------------------------------------------------------------ time
# The timing method itself lives in course_lib.measure.timing; here are the closures it times.


def train_step_fn(model: nn.Module, ids, y, lr: float = 1e-3) -> Callable[[], None]:
    """A closure doing one full AdamW training step (forward, loss, backward, update): the
    step every training loop takes (``course_lib.training.step.train_step``), without the
    divergence check, whose reads would add a GPU sync to the time."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()

    def step() -> None:
        train_step(model, opt, ids, y, step=0, lr=lr, check=None)

    return step


def train_parts(model: nn.Module, ids, y, lr: float = 1e-3):
    """``(model, loss_fn, AdamW)`` for ``timing.compare_phases``: forward, backward and
    optimizer step of a training step, timed apart."""
    return model, (lambda: batch_loss(model, ids, y)), torch.optim.AdamW(model.parameters(), lr=lr)


def inference_fn(model: nn.Module, ids: torch.Tensor) -> Callable[[], None]:
    """A closure running the model in eval mode without autograd."""
    model.eval()

    def forward() -> None:
        with torch.inference_mode():
            model(ids)

    return forward


# --------------------------------------------------------------------------- one plan
def measure_plan(
    cfg: ModelConfig,
    batch_size: int = 8,
    seq_len: int = 32,
    timings: bool = False,
    large_batch: int = 32,
    device="cpu",
    seed: int = 0,
    repeats: int = 5,
) -> dict[str, float | int | str | None]:
    """One row of notebook 08's table: counts, FLOPs, memory and (optionally) times.

    ``n_blocks`` is ``cfg.n_blocks`` itself, M (None for ``none``, ``all``, ``attention``
    and ``ffn``), not a count of distinct blocks; ``unique_params`` says what is stored."""
    from course_lib.nn.model import build_model  # here, so that model.py may one day import cost.py

    torch.manual_seed(seed)
    model = build_model(cfg).to(device)
    ids, y = synthetic_batch(cfg, batch_size, seq_len, seed, device)
    flops = analytic_flops(cfg, batch_size, seq_len)
    row: dict[str, float | int | str | None] = {
        "sharing": cfg.sharing,
        "n_layers": cfg.n_layers,
        "n_blocks": cfg.n_blocks,  # M as in the config: None for plans without M
        "unique_params": count_parameters(model),
        "per_use_params": count_parameters_per_use(model),
        "flops_per_token": flops.per_token,
        "counted_flops_per_token": counted_flops(model, ids) / flops.tokens,
        **activation_memory(model, ids, y),
        **{f"{k}_bytes": v for k, v in asdict(training_state_memory(model, ids, y)).items()},
    }
    if timings:
        step = median_time(train_step_fn(model, ids, y), device, repeats=repeats)
        row["train_step_ms"] = 1e3 * step.median_s
        for b in (1, large_batch):
            big, _ = synthetic_batch(cfg, b, seq_len, seed, device)
            t = median_time(inference_fn(model, big), device, repeats=repeats)
            row[f"latency_b{b}_ms"] = 1e3 * t.median_s
    return row
