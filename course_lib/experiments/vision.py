"""Notebook 10's experiment: train one digits ViT per sharing plan and compare them.

The model (``course_lib.nn.vision``: patches, class token, the text models' ``LayerStack``;
Dosovitskiy et al. 2021) is built there; this module trains it with
``course_lib.training.train`` and tabulates unique parameters, per-use parameters and test
accuracy per plan, the table notebook 10 plots and ``scripts/extra_seeds.py vision`` repeats
over seeds into ``data/results/vision_seeds.csv``.
"""

from __future__ import annotations

from course_lib.config import ModelConfig, TrainConfig
from course_lib.nn.counts import count_parameters, count_parameters_per_use
from course_lib.nn.sharing import SharingPlan
from course_lib.nn.vision import PLANS, build_vit, load_digits_tensors, vit_config
from course_lib.runtime import seed_everything
from course_lib.training.train import evaluate, train_model


def vision_preset(mode: str) -> tuple[dict, TrainConfig]:
    """(ViT size changes for ``vit_config``, TrainConfig): FAST for 2 CPU cores, FULL for a GPU."""
    if mode == "FAST":
        return {}, TrainConfig(steps=200, batch_size=64, lr=3e-3, warmup_steps=20, seed=0)
    if mode == "FULL":
        size = dict(d_model=64, d_ff=256, n_layers=8)
        return size, TrainConfig(steps=2000, batch_size=128, lr=2e-3, warmup_steps=100, seed=0)
    raise ValueError(f"mode={mode!r} is not allowed: choose 'FAST' or 'FULL'")


def train_and_evaluate(
    cfg: ModelConfig, train_cfg: TrainConfig, patch_size: int = 2, progress: bool = False
) -> dict:
    """Build (seeded), train on the digits train split, evaluate on the test split."""
    train, test = load_digits_tensors()
    seed_everything(train_cfg.seed)  # the same initial weights for the same plan
    model = build_vit(cfg, patch_size)
    history = train_model(model, train, train_cfg, task="classify", progress=progress)
    metrics = evaluate(model, test, "classify")
    return {
        "model": model,
        "unique_params": count_parameters(model),
        "per_use_params": count_parameters_per_use(model),
        "test_accuracy": metrics["accuracy"],
        "test_loss": metrics["loss"],
        "train_time_s": history["train_time_s"],
        "final_train_loss": sum(history["loss"][-20:]) / len(history["loss"][-20:]),
    }


def compare_plans(
    plans: dict[str, dict] | None = None,
    size: dict | None = None,
    train_cfg: TrainConfig | None = None,
    patch_size: int = 2,
    progress: bool = False,
):
    """Train one ViT per plan; a pandas DataFrame, one row per plan, in the given order."""
    import pandas as pd

    plans = PLANS if plans is None else plans
    train_cfg = train_cfg or vision_preset("FAST")[1]
    rows = []
    for name, plan in plans.items():
        cfg = vit_config(**{**(size or {}), **plan})
        r = train_and_evaluate(cfg, train_cfg, patch_size, progress)
        sets = SharingPlan.from_config(cfg)
        rows.append(
            {
                "plan": name,
                "layers": cfg.n_layers,
                "attn_sets": sets.n_attn,
                "ffn_sets": sets.n_ffn,
                "unique_params": r["unique_params"],
                "per_use_params": r["per_use_params"],
                "test_accuracy": r["test_accuracy"],
                "train_time_s": r["train_time_s"],
            }
        )
    return pd.DataFrame(rows)
