"""Our encoder stack against ``torch.nn.TransformerEncoder`` at an identical configuration.

Same d_model, heads, d_ff, layers, pre-/post-LN, activation, dropout 0, batch_first, and
the very same weights (copied, then checked to give the same output). Three measurements,
interleaved in one run so that a busy machine slows every contender alike:

- ``forward_train``: forward pass in training mode with autograd on (PyTorch's generic path)
- ``forward_eval``: eval mode under ``torch.inference_mode``; here PyTorch may use its fused
  "fast path" (``torch._transformer_encoder_layer_fwd``); the run reports whether it did
- ``train_step``: forward, backward and an AdamW update

Printed as throughput ratios ours / torch (> 1: ours is faster): the median over rounds
of t_torch / t_ours, each round timing every contender back to back (a busy spell of a
shared machine then cancels out), beside the median time of each. PyTorch's encoder is
also timed against an identical copy of itself (``torch twin``): how far that ratio
strays from 1 is the run's noise floor (``course_lib.measure.timing.noise_floor``, 4 rounds or
more), and each ratio gets a verdict against it.
fp32 on CPU, bf16 autocast on CUDA. Usage::

    python benchmarks/encoder_vs_torch.py                 # < 1 min on an idle 2-core CPU
    python benchmarks/encoder_vs_torch.py --out results/encoder_cpu.json
    python benchmarks/encoder_vs_torch.py --component attention   # attention module alone
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from _common import (  # noqa: E402
    add_run_arguments,
    autocast,
    machine_info,
    print_info,
    set_up_run,
    write_json,
)

from course_lib.config import ModelConfig  # noqa: E402
from course_lib.measure.timing import compare_times, noise_floor, paired_ratio, timing_verdict  # noqa: E402
from course_lib.nn.layers import MultiHeadSelfAttention  # noqa: E402
from course_lib.nn.model import LayerStack  # noqa: E402

MODES = ("forward_train", "forward_eval", "train_step")


def ours(args, impl: str) -> LayerStack:
    cfg = ModelConfig(d_model=args.d_model, n_heads=args.n_heads, d_ff=args.d_ff,
                      n_layers=args.n_layers, norm_first=not args.post_ln,
                      activation=args.activation, attn_impl=impl, max_len=args.seq_len)  # fmt: skip
    torch.manual_seed(0)
    return LayerStack(cfg)


def reference(args) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        args.d_model, args.n_heads, args.d_ff, dropout=0.0, activation=args.activation,
        batch_first=True, norm_first=not args.post_ln,
    )  # fmt: skip
    final = None if args.post_ln else nn.LayerNorm(args.d_model)  # our pre-LN final norm
    return nn.TransformerEncoder(layer, args.n_layers, norm=final, enable_nested_tensor=False)


class TorchSelfAttention(nn.Module):
    """``nn.MultiheadAttention`` called as self-attention, returning the output only."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.mha = nn.MultiheadAttention(d_model, n_heads, dropout=0.0, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mha(x, x, x, need_weights=False)[0]


def build_models(args) -> dict[str, nn.Module]:
    """ours_sdpa, ours_manual and torch, all holding the same weights."""
    if args.component == "attention":  # one attention module, no FFN, norms or residuals
        torch.manual_seed(0)
        sdpa = MultiHeadSelfAttention(args.d_model, args.n_heads, impl="sdpa")
        manual = MultiHeadSelfAttention(args.d_model, args.n_heads, impl="manual")
        manual.load_state_dict(sdpa.state_dict())
        ref = TorchSelfAttention(args.d_model, args.n_heads)
        copy_attention(sdpa, ref.mha)
    else:
        sdpa, manual, ref = ours(args, "sdpa"), ours(args, "manual"), reference(args)
        copy_weights(sdpa, ref)
    return {"ours_sdpa": sdpa, "ours_manual": manual, "torch": ref}


@torch.no_grad()
def copy_attention(a: MultiHeadSelfAttention, mha: nn.MultiheadAttention) -> None:
    """Our separate q/k/v projections go into PyTorch's packed in_proj."""
    mha.in_proj_weight.copy_(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]))
    mha.in_proj_bias.copy_(torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]))
    mha.out_proj.load_state_dict(a.out_proj.state_dict())


@torch.no_grad()
def copy_weights(stack: LayerStack, ref: nn.TransformerEncoder) -> None:
    """Every block of our stack into the matching ``nn.TransformerEncoderLayer``."""
    for block, layer in zip(stack.layers, ref.layers, strict=True):
        copy_attention(block.attn.fn, layer.self_attn)
        layer.linear1.load_state_dict(block.ffn.fn.fc1.state_dict())
        layer.linear2.load_state_dict(block.ffn.fn.fc2.state_dict())
        layer.norm1.load_state_dict(block.attn.norm.state_dict())
        layer.norm2.load_state_dict(block.ffn.norm.state_dict())
    if ref.norm is not None:
        ref.norm.load_state_dict(stack.final_norm.state_dict())


class _OpNames(TorchDispatchMode):
    """Records the name of every aten op that runs while it is active."""

    def __init__(self):
        super().__init__()
        self.names: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(str(func))
        return func(*args, **(kwargs or {}))


def torch_fast_path_used(ref: nn.Module, x: torch.Tensor, device: torch.device) -> bool:
    """Run one eval forward and look for PyTorch's fused encoder-layer / attention kernel."""
    ref.eval()
    with torch.inference_mode(), autocast(device), _OpNames() as ops:
        ref(x)
    fused = ("_transformer_encoder_layer_fwd", "_native_multi_head_attention")
    return any(f in name for name in ops.names for f in fused)


def make_fn(model: nn.Module, mode: str, x: torch.Tensor, device: torch.device):
    if mode == "forward_eval":
        model.eval()

        def fn():
            with torch.inference_mode(), autocast(device):
                model(x)

        return fn
    model.train()
    if mode == "forward_train":

        def fn():
            with autocast(device):
                model(x)

        return fn
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def fn():
        opt.zero_grad(set_to_none=True)
        with autocast(device):
            loss = model(x).float().pow(2).mean()
        loss.backward()
        opt.step()

    return fn


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--n-heads", type=int, default=4)
    p.add_argument("--d-ff", type=int, default=1024)
    p.add_argument("--n-layers", type=int, default=4)
    p.add_argument("--batch", type=int, default=None, help="default: 8 on CPU, 64 on CUDA")
    p.add_argument("--seq-len", type=int, default=None, help="default: 128 on CPU, 256 on CUDA")
    p.add_argument("--component", choices=("encoder", "attention"), default="encoder",
                   help="the whole encoder stack, or one self-attention module alone")  # fmt: skip
    p.add_argument("--activation", choices=("gelu", "relu"), default="gelu")
    p.add_argument("--post-ln", action="store_true", help="post-LN (BERT) instead of pre-LN")
    add_run_arguments(p)  # --repeats --warmup --device --threads --out
    p.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated subset of " + ", ".join(MODES)
    )
    args = p.parse_args(argv)
    device = set_up_run(args)
    cuda = device.type == "cuda"
    args.batch = args.batch or (64 if cuda else 8)
    args.seq_len = args.seq_len or (256 if cuda else 128)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise SystemExit(f"--modes={args.modes!r} is not allowed: choose from {', '.join(MODES)}")
    try:
        ModelConfig(
            d_model=args.d_model, n_heads=args.n_heads, d_ff=args.d_ff, n_layers=args.n_layers
        )
    except ValueError as err:
        raise SystemExit(f"bad model size: {err}") from None

    info = machine_info(device)
    print_info(info)
    x = torch.randn(
        args.batch, args.seq_len, args.d_model, generator=torch.Generator().manual_seed(0)
    )
    x = x.to(device)
    models = {k: m.to(device) for k, m in build_models(args).items()}
    ref = models["torch"]
    twin = "torch twin"  # an identical copy of the reference: its ratio to torch is noise
    with torch.no_grad():
        for m in models.values():
            m.eval()
        diff = max(
            (models[k](x) - models["torch"](x)).abs().max().item()
            for k in ("ours_sdpa", "ours_manual")
        )
    fast = torch_fast_path_used(ref, x, device)
    print(f"config: {args.component}, d={args.d_model} heads={args.n_heads} d_ff={args.d_ff} layers={args.n_layers} "
          f"{'post' if args.post_ln else 'pre'}-LN {args.activation} batch={args.batch} "
          f"seq={args.seq_len} {'bf16 autocast' if cuda else 'fp32'}; "
          f"max |ours - torch| = {diff:.1e}; torch eval fast path used: {fast}")  # fmt: skip

    tokens = args.batch * args.seq_len
    results = {}
    print(f"{'mode':14s} {'sdpa ms':>9s} {'manual ms':>10s} {'torch ms':>9s}"
          f" {'sdpa/torch':>11s} {'manual/torch':>13s}   (throughput ratios, > 1 = ours faster)")  # fmt: skip
    models[twin] = copy.deepcopy(ref)
    for mode in modes:
        fns = {k: make_fn(m, mode, x, device) for k, m in models.items()}
        t = compare_times(fns, device, args.warmup, args.repeats, args.clock)
        floor = noise_floor(t["torch"], t[twin]) if args.repeats >= 4 else None
        ms = {k: 1e3 * v.median_s for k, v in t.items()}
        row = {
            "median_ms": ms,
            "tokens_per_s": {k: tokens / (v / 1e3) for k, v in ms.items()},
            "min_ms": {k: 1e3 * v.min_s for k, v in t.items()},
            "ratio_sdpa_vs_torch": paired_ratio(t["torch"], t["ours_sdpa"]),
            "ratio_manual_vs_torch": paired_ratio(t["torch"], t["ours_manual"]),
            "noise_floor": floor,  # None below 4 rounds
        }
        if floor is not None:
            for k in ("sdpa", "manual"):
                row[f"verdict_{k}_vs_torch"] = timing_verdict(row[f"ratio_{k}_vs_torch"], floor)
        results[mode] = row
        print(f"{mode:14s} {ms['ours_sdpa']:9.1f} {ms['ours_manual']:10.1f} {ms['torch']:9.1f}"
              f" {row['ratio_sdpa_vs_torch']:11.3f} {row['ratio_manual_vs_torch']:13.3f}"
              + (f"   noise floor ±{floor:.3f}" if floor is not None else ""))  # fmt: skip
    payload = {"benchmark": "encoder_vs_torch", "machine": info, "config": vars(args),
               "max_abs_diff": diff, "torch_eval_fast_path": fast, "repeats": args.repeats,
               "results": results}  # fmt: skip
    if args.out:
        write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
