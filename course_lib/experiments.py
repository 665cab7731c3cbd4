"""Experiments: one run -> one record; sweeps that append to a CSV and resume (06, 08).

``run_experiment`` builds a model from its ``ModelConfig``, trains it on a shipped
dataset and returns a flat record (parameters unique and per use, accuracy or loss,
speed, memory, device and every config field). ``run_sweep`` runs a list of them,
appending each record to a CSV atomically (read, append, write a temp file, rename) and
skipping the configurations already in the file, so an interrupted sweep resumes where it
stopped. FAST runs on two CPU cores in seconds per run; FULL covers every sharing plan at
two depths on both datasets and is sized for one H100 (bf16, PyTorch's SDPA kernel).
From the shell: ``python -m course_lib sweep --preset fast --out data/results/fast.csv``.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from .config import SHARING_STRATEGIES, ModelConfig, TrainConfig
from .data import char_lm_tensors, char_vocab_size, classification_tensors
from .measure import count_parameters, count_parameters_per_use
from .model import build_model
from .runtime import seed_everything
from .sharing import SharingPlan
from .train import evaluate, train_model

DATASETS = {"rotten_tomatoes": "classify", "shakespeare": "lm"}
PRESET_NAMES = ("fast", "full")
# Dense bf16 peak of the SXM parts (NVIDIA data sheets), the MFU denominator.
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
Run = tuple[ModelConfig, TrainConfig, str]


def run_key(model_cfg: ModelConfig, train_cfg: TrainConfig, dataset: str) -> str:
    """A stable id of one configuration: sha256 of its configs and dataset, 16 hex digits."""
    blob = json.dumps(
        {"dataset": dataset, "model": model_cfg.to_dict(), "train": train_cfg.to_dict()},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _check_run(model_cfg: Any, train_cfg: Any, dataset: Any) -> None:
    if not isinstance(model_cfg, ModelConfig):
        raise ValueError(f"model_cfg={type(model_cfg).__name__} is not allowed: pass a ModelConfig")
    if not isinstance(train_cfg, TrainConfig):
        raise ValueError(f"train_cfg={type(train_cfg).__name__} is not allowed: pass a TrainConfig")
    if dataset not in DATASETS:
        raise ValueError(
            f"dataset={dataset!r} is not allowed: choose 'rotten_tomatoes' or 'shakespeare'"
        )
    if model_cfg.task != DATASETS[dataset]:
        raise ValueError(
            f"task={model_cfg.task!r} is not allowed with dataset={dataset!r}: "
            f"it needs task={DATASETS[dataset]!r}"
        )
    if dataset == "shakespeare" and model_cfg.vocab_size < char_vocab_size():
        raise ValueError(
            f"vocab_size={model_cfg.vocab_size} is not allowed with dataset='shakespeare': "
            f"it must be >= {char_vocab_size()} (the characters of the train split + 2)"
        )


@functools.lru_cache(maxsize=4)
def _datasets(dataset: str, vocab_size: int, max_len: int):
    if dataset == "rotten_tomatoes":
        train, val, test, _ = classification_tensors(vocab_size, max_len)
        return train, val, test
    train, val, _ = char_lm_tensors(max_len)
    return train, val, None


def matmul_parameters(model: torch.nn.Module) -> int:
    """Per-use parameters that take part in a matmul: all but the embedding lookup tables
    (a tied LM head still counts, as the output projection it is)."""
    lookups = model.embed.tok_emb.weight.numel() + model.embed.pos_emb.weight.numel()
    return count_parameters_per_use(model) - lookups


def device_name(device: str) -> str:
    return torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.machine()


def run_name(cfg: ModelConfig) -> str:
    """A short label such as ``cycle N12 M6`` or ``none N6``."""
    m = f" M{cfg.n_blocks}" if cfg.sharing in ("sequence", "cycle", "cycle_rev") else ""
    return f"{cfg.sharing} N{cfg.n_layers}{m}"


def run_experiment(
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    dataset: str = "rotten_tomatoes",
    progress: bool = True,
) -> dict[str, Any]:
    """Train one model on one shipped dataset and return its flat record.

    Classification records carry ``accuracy`` (test split) and ``val_accuracy``; LM records
    carry ``val_loss`` (mean cross-entropy per character, nats) and ``val_bpc`` (bits).
    ``n_blocks`` is the number of distinct blocks (attention+FFN pairs) the plan holds.
    """
    _check_run(model_cfg, train_cfg, dataset)
    train, val, test = _datasets(dataset, model_cfg.vocab_size, model_cfg.max_len)
    plan = SharingPlan.from_config(model_cfg)
    seed_everything(train_cfg.seed)
    model = build_model(model_cfg)
    hist = train_model(model, train, train_cfg, eval_ds=val, task=model_cfg.task, progress=progress)
    record: dict[str, Any] = {
        "key": run_key(model_cfg, train_cfg, dataset),
        "name": run_name(model_cfg),
        "dataset": dataset,
        "plan": " ".join(f"{a}/{f}" for a, f in zip(plan.attn_ids, plan.ffn_ids, strict=True)),
        "sharing": model_cfg.sharing,
        "n_layers": model_cfg.n_layers,
        "n_blocks": len(set(zip(plan.attn_ids, plan.ffn_ids, strict=True))),
        "n_attn": plan.n_attn,
        "n_ffn": plan.n_ffn,
        "unique_params": count_parameters(model),
        "per_use_params": count_parameters_per_use(model),
        "matmul_params": matmul_parameters(model),
    }
    final = hist["eval"][-1]
    if model_cfg.task == "classify":
        record["accuracy"] = evaluate(model, test, amp=train_cfg.amp)["accuracy"]
        record["val_accuracy"] = final["accuracy"]
    else:
        record["val_loss"] = final["loss"]
        record["val_bpc"] = final["loss"] / float(torch.log(torch.tensor(2.0)))
    record["final_train_loss"] = sum(hist["loss"][-10:]) / len(hist["loss"][-10:])
    record.update(
        train_time_s=hist["train_time_s"],
        tokens_per_s=hist["tokens_per_s"],
        peak_mem_mb=hist["peak_mem_mb"],  # torch.cuda.max_memory_allocated; None off CUDA
        device=hist["device"],
        device_name=device_name(hist["device"]),
        torch=torch.__version__,
        seed=train_cfg.seed,
    )
    for k, v in model_cfg.to_dict().items():
        if k != "n_blocks":
            record.setdefault(k, v)
    record["n_blocks_cfg"] = model_cfg.n_blocks  # the M field itself (None for none/all/...)
    for k, v in train_cfg.to_dict().items():
        record["device_requested" if k == "device" else k] = v
    record["model_config"] = json.dumps(model_cfg.to_dict(), sort_keys=True)
    record["train_config"] = json.dumps(train_cfg.to_dict(), sort_keys=True)
    return record


# ---------------------------------------------------------------- sweeps


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame()
    try:
        df = pd.read_csv(path, dtype={"key": str})
    except Exception as err:
        raise ValueError(f"results file {path} cannot be read as CSV ({err})") from None
    if "key" not in df.columns:
        raise ValueError(f"results file {path} has no 'key' column: it is not a sweep CSV")
    return df


def _check_writable(path: Path, field: str) -> None:
    """Fail before any work when ``path`` is a folder or sits under a file."""
    if path.is_dir():
        raise ValueError(f"{field}={str(path)!r} is not allowed: it is a folder, not a file")
    folder = next(p for p in path.absolute().parents if p.exists())  # nearest existing one
    if not folder.is_dir():
        raise ValueError(f"{field}={str(path)!r} is not allowed: {folder} is a file, not a folder")


def check_results_path(csv_path: str | os.PathLike) -> Path:
    """``csv_path`` as a Path, or a ValueError naming the problem before any training: it
    must end in .csv, be no folder nor sit under a file, and, if it exists, be a sweep CSV."""
    path = Path(csv_path)
    if path.suffix != ".csv":
        raise ValueError(f"csv_path={str(path)!r} is not allowed: it must end in .csv")
    _check_writable(path, "csv_path")
    _read_csv(path)
    return path


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def append_record(csv_path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Add one row to ``csv_path``: read it, append, write a temp file, rename over it."""
    path = Path(csv_path)
    df = pd.concat([_read_csv(path), pd.DataFrame([record])], ignore_index=True)
    _write_atomic(path, df.to_csv(index=False))


def _git_commit() -> str | None:
    """HEAD of the checkout, or COURSE_GIT_COMMIT where the code runs outside one (a copy
    of the tree sent to a GPU machine)."""
    if os.environ.get("COURSE_GIT_COMMIT"):
        return os.environ["COURSE_GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def mfu(record: dict[str, Any], params: str = "per_use_params") -> float | None:
    """Model FLOPs utilisation: 6 x parameters x tokens/s / the GPU's dense bf16 peak."""
    peak = next((v for k, v in PEAK_BF16_FLOPS.items() if k in str(record["device_name"])), None)
    if peak is None or not str(record["device"]).startswith("cuda"):
        return None
    return 6 * record[params] * record["tokens_per_s"] / peak


def _plain(value: Any) -> Any:
    """A NumPy scalar (as pandas hands out) as the Python number JSON can hold."""
    return value.item() if hasattr(value, "item") else value


def cpu_name() -> str:
    """The CPU model as the OS names it (Linux /proc/cpuinfo), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(df: pd.DataFrame, preset: str | None, command: str | None = None) -> dict[str, Any]:
    """Where and how a sweep ran (no hostname), plus the MFU of its largest configuration."""
    cuda = torch.cuda.is_available()
    info: dict[str, Any] = {
        "preset": preset,
        "command": command,
        "device": torch.cuda.get_device_name(0) if cuda else f"cpu ({platform.machine()})",
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "python": platform.python_version(),
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "git_commit": _git_commit(),
        "n_records": len(df),
        "seeds": sorted({int(x) for x in df["seed"]}) if "seed" in df.columns else [],
    }
    if len(df) and {"per_use_params", "batch_size", "max_len"} <= set(
        df.columns
    ):  # the largest configuration: most FLOPs per step
        work = df["per_use_params"] * df["batch_size"] * df["max_len"]
        big = df.loc[work.idxmax()].to_dict()
        keys = ("name", "dataset", "per_use_params", "matmul_params", "tokens_per_s", "device_name")
        info["largest"] = {k: _plain(big.get(k)) for k in keys}
        for label, params in (("mfu", "per_use_params"), ("mfu_matmul", "matmul_params")):
            value = mfu(big, params)
            info["largest"][label] = None if value is None else round(value, 4)
    info["mfu_assumption"] = (
        "mfu = 6 * per_use_params * tokens_per_s / peak (embedding lookups counted as if "
        "matmuls); mfu_matmul uses matmul_params (lookups excluded); attention-score FLOPs "
        f"(about 12*N*T*d per token) ignored; peak = dense bf16 of the SXM part {PEAK_BF16_FLOPS}; "
        "None on CPU or an unknown GPU"
    )
    return info


def parse_seeds(text: str) -> list[int]:
    """``"0-9"``, ``"0,3,7"`` or ``"0-4,10"`` as a sorted list of distinct seeds."""
    seeds: set[int] = set()
    try:
        for part in str(text).split(","):
            lo, _, hi = part.strip().partition("-")
            first, last = int(lo), int(hi) if hi else int(lo)
            if first < 0 or last < first or last >= 2**32:
                raise ValueError
            seeds.update(range(first, last + 1))
    except ValueError:
        raise ValueError(
            f"seeds={text!r} is not allowed: use integers in 0..2**32-1 as '0-9', '0,3,7' or '0-4,10'"
        ) from None
    return sorted(seeds)


def with_seeds(runs: list[Run], seeds: list[int] | None) -> list[Run]:
    """Every run once per seed, seed-major (all runs of the first seed, then the next), so
    an interrupted sweep holds whole seeds. ``None`` keeps each run's own seed."""
    if seeds is None:
        return list(runs)
    return [(m, t.replace(seed=s), d) for s in seeds for m, t, d in runs]


def run_sweep(
    runs: list[Run],
    csv_path: str | os.PathLike,
    progress: bool = True,
    preset: str | None = None,
    run_fn=run_experiment,
    seeds: list[int] | None = None,
    command: str | None = None,
) -> pd.DataFrame:
    """Run every (model_cfg, train_cfg, dataset) not yet in ``csv_path``; return the table.

    Each record is appended atomically as soon as its run ends, and a provenance JSON
    (same name, ``.json``) is rewritten beside the CSV. Rerunning the same list after an
    interruption skips the finished configurations (matched by ``run_key``). ``seeds``
    runs every configuration once per seed (column ``seed``); ``command`` is recorded in
    the provenance.
    """
    runs = with_seeds(runs, seeds)
    path = check_results_path(csv_path)
    for model_cfg, train_cfg, dataset in runs:
        _check_run(model_cfg, train_cfg, dataset)  # fail before any training
    done = set(_read_csv(path).get("key", pd.Series(dtype=str)).astype(str))
    for i, (model_cfg, train_cfg, dataset) in enumerate(runs, 1):
        key = run_key(model_cfg, train_cfg, dataset)
        label = f"[{i}/{len(runs)}] {run_name(model_cfg)} on {dataset}"
        if key in done:
            if progress:
                print(f"{label}: already in {path.name}, skipped")
            continue
        t0 = time.perf_counter()
        record = run_fn(model_cfg, train_cfg, dataset, progress=progress)
        record["key"] = key
        append_record(path, record)
        done.add(key)
        _write_atomic(
            path.with_suffix(".json"),
            json.dumps(provenance(_read_csv(path), preset, command), indent=2, default=str) + "\n",
        )
        if progress:
            metric = record.get("accuracy", record.get("val_loss"))
            print(f"{label}: {metric:.4f} in {time.perf_counter() - t0:.1f} s")
    return _read_csv(path)


# ---------------------------------------------------------------- presets


def fast_preset() -> list[Run]:
    """Seconds per run on two CPU cores: all seven plans (N=4, M=2) on Rotten Tomatoes,
    three on Shakespeare; about 10 s each. The classifiers reach 65-72% test accuracy
    (a majority guess scores 57.8%).
    """
    rt = ModelConfig(
        vocab_size=4000, d_model=32, n_heads=4, d_ff=64, n_layers=4, max_len=32, task="classify"
    )
    rt_train = TrainConfig(steps=150, batch_size=64, lr=3e-3, warmup_steps=15)
    lm = ModelConfig(
        vocab_size=char_vocab_size(),
        d_model=32,
        n_heads=4,
        d_ff=64,
        n_layers=4,
        max_len=64,
        task="lm",
    )
    lm_train = TrainConfig(steps=100, batch_size=32, lr=3e-3, warmup_steps=10)
    runs = [(rt.replace(**_plan(s, 4, 2)), rt_train, "rotten_tomatoes") for s in SHARING_STRATEGIES]
    runs += [
        (lm.replace(**_plan(s, 4, 2)), lm_train, "shakespeare") for s in ("none", "all", "cycle")
    ]
    return runs


def full_preset() -> list[Run]:
    """One H100: every plan at N=6 (M=3) and N=12 (M=6) on both datasets, d_model 256,
    bf16 autocast, SDPA attention; 28 runs, about 9e15 training FLOPs in all.
    """
    common = dict(d_model=256, n_heads=4, d_ff=1024, attn_impl="sdpa")
    rt = ModelConfig(vocab_size=8000, max_len=48, task="classify", **common)
    rt_train = TrainConfig(steps=600, batch_size=128, lr=1e-3, warmup_steps=60)
    lm = ModelConfig(vocab_size=char_vocab_size(), max_len=256, task="lm", **common)
    lm_train = TrainConfig(steps=600, batch_size=64, lr=1e-3, warmup_steps=60)
    runs = []
    for base, train, dataset in ((rt, rt_train, "rotten_tomatoes"), (lm, lm_train, "shakespeare")):
        for n, m in ((6, 3), (12, 6)):
            runs += [(base.replace(**_plan(s, n, m)), train, dataset) for s in SHARING_STRATEGIES]
    return runs


def _plan(sharing: str, n_layers: int, n_blocks: int) -> dict[str, Any]:
    with_m = sharing in ("sequence", "cycle", "cycle_rev")
    return dict(sharing=sharing, n_layers=n_layers, n_blocks=n_blocks if with_m else None)


def preset_runs(name: str) -> list[Run]:
    """The runs of a named preset: "fast" or "full"."""
    if name not in PRESET_NAMES:
        raise ValueError(f"preset={name!r} is not allowed: choose 'fast' or 'full'")
    return fast_preset() if name == "fast" else full_preset()


def training_flops(runs: list[Run]) -> float:
    """6 x per-use parameters x tokens, summed over ``runs`` (the usual estimate)."""
    total = 0.0
    for model_cfg, train_cfg, _ in runs:
        per_use = count_parameters_per_use(build_model(model_cfg))
        total += 6 * per_use * train_cfg.steps * train_cfg.batch_size * model_cfg.max_len
    return total
