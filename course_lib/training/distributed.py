"""Data-parallel training of a shared model with DistributedDataParallel (notebook 08).

Run under torchrun; two CPU processes with the gloo backend are enough to see it work::

    python -m torch.distributed.run --standalone --nproc_per_node 2 \\
        -m course_lib.training.distributed --steps 5 --sharing cycle --n-blocks 2 --out runs/ddp

Each rank trains on its own shard of synthetic batches; DDP averages the gradients.
What a shared model needs from DDP, and what this module checks:

- A parameter used at several depths gets one gradient, the sum over its uses. Autograd
  adds the contributions *before* the parameter's AccumulateGrad node runs, and DDP's
  hook sits on that node, so it fires once per parameter per step with the full sum.
  Plain ``DistributedDataParallel(model)`` (``find_unused_parameters=False``) works; no
  ``static_graph`` needed. ``--static-graph`` is there to show it changes nothing.
- DDP registers each *unique* tensor once (``model.parameters()`` deduplicates), so the
  all-reduce moves unique parameters only: sharing also cuts communication.
- Shared tensors stay shared: the same module object sits at every shared depth.

Every rank writes ``rank{r}.pt`` (state_dict, with aliases preserved by ``torch.save``)
and ``rank{r}.json`` (losses, a weight hash, checks) atomically; ``--reference`` trains
the same steps in one process on the concatenated shards, which DDP must match.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from course_lib.config import BLOCK_STRATEGIES, MAX_SEED, ModelConfig
from course_lib.data.synthetic import synthetic_batch
from course_lib.files import atomic_write
from course_lib.nn.model import build_model
from course_lib.nn.sharing import SharingPlan
from course_lib.training.step import DivergenceCheck, train_step

JOIN_TIMEOUT_S = 300.0  # the longest wait for every rank to join the process group


def shard(cfg: ModelConfig, step: int, rank: int, batch: int, seq_len: int):
    """Rank ``rank``'s batch at ``step``: a different seeded batch for every (step, rank)."""
    return synthetic_batch(cfg, batch, seq_len, seed=10_000 * step + rank)


def weights_hash(model: nn.Module) -> str:
    """sha256 over every unique parameter's bytes, in ``named_parameters`` order."""
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        h.update(name.encode())
        h.update(p.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def shared_depths_intact(model: nn.Module, plan: SharingPlan) -> bool:
    """True when every pair of layers the plan says share weights use the same storage."""
    layers = model.stack.layers
    for kind, ids in (("attn", plan.attn_ids), ("ffn", plan.ffn_ids)):
        first: dict[int, int] = {}
        for i, k in enumerate(ids):
            j = first.setdefault(k, i)
            a, b = getattr(layers[i], kind), getattr(layers[j], kind)
            for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
                if pa.data_ptr() != pb.data_ptr():
                    return False
    return True


def _atomic_save(obj, path: Path, as_json: bool = False) -> None:
    if as_json:
        atomic_write(path, json.dumps(obj, indent=2))
    else:
        atomic_write(path, lambda tmp: torch.save(obj, tmp))


def train(
    cfg: ModelConfig,
    args,
    rank: int = 0,
    world: int = 1,
    ddp: bool = True,
    device: torch.device | None = None,
) -> dict:
    """Train ``args.steps`` AdamW steps; with ``ddp`` under an initialised process group.

    ``device``: where this rank computes (CPU for gloo, ``cuda:LOCAL_RANK`` for nccl). Each
    step is ``course_lib.training.step.train_step`` at a constant lr, the gradient norm
    measured but not clipped; a non-finite loss or norm stops it with ``TrainingDiverged``.
    """
    device = device or torch.device("cpu")
    torch.manual_seed(args.seed)  # same start everywhere (DDP also broadcasts rank 0's)
    model = build_model(cfg).to(device)  # moving keeps shared modules shared
    net: nn.Module = model
    if ddp:
        ids = [device.index] if device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=ids, static_graph=args.static_graph)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr)
    losses, check = [], DivergenceCheck(args.steps)
    for step in range(args.steps):
        if ddp:
            ids, y = shard(cfg, step, rank, args.batch, args.seq_len)
        else:  # the reference: every rank's shard at once, one process
            pairs = [shard(cfg, step, r, args.batch, args.seq_len) for r in range(world)]
            ids, y = torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
        ids, y = ids.to(device), y.to(device)
        # every rank sees the same (all-reduced) gradient norm, so all stop at once
        loss, _ = train_step(net, opt, ids, y, step=step, lr=args.lr, check=check)
        losses.append(loss.item())
    # what DDP's reducer really all-reduces each step, from its own logging data
    reduced = net._get_ddp_logging_data().get("total_parameter_size_bytes") if ddp else None
    return {"model": model, "losses": losses, "allreduce_bytes": reduced}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="DDP training of a shared model (run under torchrun)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--sharing", default="cycle")
    p.add_argument("--n-blocks", type=int, default=2)
    p.add_argument("--n-layers", type=int, default=4)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--batch", type=int, default=8, help="per rank")
    p.add_argument("--seq-len", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default="gloo", choices=("gloo", "nccl"))
    p.add_argument("--static-graph", action="store_true")
    p.add_argument("--reference", type=int, default=0, metavar="WORLD",
                   help="no DDP: train in one process on WORLD ranks' shards concatenated")  # fmt: skip
    p.add_argument("--out", required=True, help="folder for rank{r}.pt / rank{r}.json")
    p.add_argument("--join-timeout", type=float, default=JOIN_TIMEOUT_S,
                   help="seconds to wait for every process to join (then a message, no hang)")  # fmt: skip
    args = p.parse_args(argv)
    if not 0 < args.lr < float("inf"):
        p.error(f"--lr={args.lr} is not allowed: it must be a finite number > 0")
    if not 0 <= args.seed <= MAX_SEED:
        p.error(f"--seed={args.seed} is not allowed: it must be in [0, {MAX_SEED}]")
    if not 0 < args.join_timeout < float("inf"):
        p.error(f"--join-timeout={args.join_timeout} is not allowed: it must be a number > 0")
    for name in ("steps", "batch", "seq_len", "n_layers", "d_model"):
        if getattr(args, name) < 1:
            p.error(
                f"--{name.replace('_', '-')}={getattr(args, name)} is not allowed: it must be >= 1"
            )
    return args


def _env_int(env, name: str, minimum: int = 0) -> int:
    text = env.get(name)
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise SystemExit(
            f"{name}={text!r} is not allowed: it must be an integer >= {minimum} (torchrun sets "
            "RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; start under torchrun)"
        ) from None
    if value < minimum:
        raise SystemExit(f"{name}={value} is not allowed: it must be an integer >= {minimum}")
    return value


def check_launch_env(env=None, backend: str = "gloo") -> tuple[int, int]:
    """(rank, world size) from the torchrun variables, checked before joining a group, so
    that an inconsistent launch stops with a message instead of waiting forever."""
    env = os.environ if env is None else env
    rank, world = _env_int(env, "RANK"), _env_int(env, "WORLD_SIZE", 1)
    if rank >= world:
        raise SystemExit(
            f"RANK={rank} is not allowed with WORLD_SIZE={world}: it must be in [0, {world - 1}]"
        )
    if "LOCAL_WORLD_SIZE" in env or "LOCAL_RANK" in env:
        local, local_world = _env_int(env, "LOCAL_RANK"), _env_int(env, "LOCAL_WORLD_SIZE", 1)
        if local >= local_world or local_world > world:
            raise SystemExit(
                f"LOCAL_RANK={local}, LOCAL_WORLD_SIZE={local_world} are not allowed with "
                f"WORLD_SIZE={world}: need LOCAL_RANK < LOCAL_WORLD_SIZE <= WORLD_SIZE"
            )
        if backend == "nccl" and local_world > torch.cuda.device_count():
            raise SystemExit(
                f"LOCAL_WORLD_SIZE={local_world} processes on a machine with "
                f"{torch.cuda.device_count()} GPU(s): --backend nccl needs one GPU per process"
            )
    if not env.get("MASTER_ADDR"):
        raise SystemExit("MASTER_ADDR is not set: start under torchrun, which sets it")
    port = _env_int(env, "MASTER_PORT", 1)
    if port > 65535:
        raise SystemExit(f"MASTER_PORT={port} is not allowed: it must be in [1, 65535]")
    return rank, world


def join_group(backend: str, world: int, timeout_s: float) -> None:
    """``init_process_group`` that gives up after ``timeout_s`` with how many joined."""
    try:
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    except dist.DistError as err:
        raise SystemExit(
            f"not every process joined within {timeout_s:g} s (WORLD_SIZE={world}; "
            f"{str(err).splitlines()[0][:160]}): start WORLD_SIZE processes "
            "(torchrun --nproc_per_node N), or fix RANK/WORLD_SIZE"
        ) from None


def model_config(args) -> ModelConfig:
    n_blocks = args.n_blocks if args.sharing in BLOCK_STRATEGIES else None
    return ModelConfig.preset("tiny", sharing=args.sharing, n_blocks=n_blocks,
                              n_layers=args.n_layers, d_model=args.d_model,
                              d_ff=4 * args.d_model, max_len=max(64, args.seq_len))  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        cfg = model_config(args)
    except ValueError as err:
        raise SystemExit(f"bad model settings: {err}") from None
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise SystemExit(f"--out={args.out!r} is a file: give a folder for rank{{r}}.pt/.json")
    out.mkdir(parents=True, exist_ok=True)
    if args.reference:
        rank, world, ddp, name = 0, args.reference, False, "reference"
    else:
        if "RANK" not in os.environ:
            raise SystemExit(
                "run under torchrun: python -m torch.distributed.run --nproc_per_node 2 -m course_lib.training.distributed ..."
            )
        check_launch_env(backend=args.backend)
        device = torch.device("cpu")
        if args.backend == "nccl":  # one GPU per process, as torchrun numbers them
            if not torch.cuda.is_available():
                raise SystemExit("--backend nccl needs CUDA GPUs; use --backend gloo on CPUs")
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        join_group(args.backend, int(os.environ["WORLD_SIZE"]), args.join_timeout)
        rank, world, ddp = dist.get_rank(), dist.get_world_size(), True
        name = f"rank{rank}"
    result = train(cfg, args, rank, world, ddp, device if ddp else None)
    model = result.pop("model")
    report = {
        "rank": rank,
        "world_size": world,
        "ddp": ddp,
        "static_graph": args.static_graph,
        "sharing": cfg.sharing,
        "weights_sha256": weights_hash(model),
        "shared_depths_intact": shared_depths_intact(model, SharingPlan.from_config(cfg)),
        **result,
    }
    _atomic_save(model.state_dict(), out / f"{name}.pt")
    _atomic_save(report, out / f"{name}.json", as_json=True)
    if ddp:
        dist.barrier()
        dist.destroy_process_group()
    print(f"{name}: loss {report['losses'][0]:.4f} -> {report['losses'][-1]:.4f}, "
          f"weights {report['weights_sha256'][:12]}, shared intact {report['shared_depths_intact']}")  # fmt: skip


if __name__ == "__main__":
    main()
