"""Multi-seed CPU results behind the comparisons of notebooks 06, 07 and 10.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/extra_seeds.py training --seeds 0-4
    OMP_NUM_THREADS=1 .venv/bin/python scripts/extra_seeds.py embeddings --seeds 0-4
    OMP_NUM_THREADS=1 .venv/bin/python scripts/extra_seeds.py vision --seeds 0-4

Each writes data/results/<set>_seeds.csv (one row per run, column ``seed``) and its
provenance JSON beside it (course_lib.experiments.provenance). The configurations are the notebooks'
FAST ones, so a learner's FAST run of seed 0 is one of the shipped runs:
``training`` (06, section 5): initialisation and optimizer on the all-shared and the
unshared classifier (the all-shared AdamW runs with BERT's N(0, 0.02) are ``cpu_seeds.csv``'s
``all``); ``embeddings`` (07): untied, tied, factorized + tied character LMs;
``vision`` (10): the five ViT plans on the digits. The seven plans of 06 are in
``cpu_seeds.csv`` (``python -m course_lib sweep --preset fast --seeds ...``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import pandas as pd
import torch

from course_lib import build_model, count_parameters
from course_lib.data.shipped import char_lm_tensors, classification_tensors
from course_lib.experiments.presets import fast_preset, parse_seeds
from course_lib.experiments.provenance import sweep_provenance
from course_lib.runtime import seed_everything
from course_lib.training.step import TrainingDiverged
from course_lib.training.train import evaluate, train_model

RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"


def lm_setup():
    """Notebook 07's FAST character LM and its training settings."""
    from course_lib import ModelConfig, TrainConfig

    cfg = ModelConfig(d_model=32, n_heads=4, d_ff=64, n_layers=4, max_len=64, task="lm",
                      attn_impl="sdpa")  # fmt: skip
    train, val, tok = char_lm_tensors(cfg.max_len)
    return cfg.replace(vocab_size=tok.vocab_size), TrainConfig(steps=150, batch_size=32, lr=3e-3,
                                                               warmup_steps=15), train, val  # fmt: skip


def training_variants():
    """Notebook 06, section 5: (name, ModelConfig, TrainConfig, re-draw embeddings?)."""
    base, tcfg, _ = next(r for r in fast_preset() if r[2] == "rotten_tomatoes")
    out = []
    for sharing in ("all", "none"):
        cfg = base.replace(sharing=sharing, n_blocks=None)
        out += [(f"{sharing}, SGD lr 0.1", cfg, tcfg.replace(optimizer="sgd", lr=0.1), False),
                (f"{sharing}, SGD lr 0.5, no clip", cfg,
                 tcfg.replace(optimizer="sgd", lr=0.5, grad_clip=None), False)]  # fmt: skip
    all_cfg = base.replace(sharing="all", n_blocks=None)
    out += [("all, Xavier, AdamW", all_cfg.replace(init="xavier"), tcfg, False),
            ("all, He, AdamW", all_cfg.replace(init="he"), tcfg, False),
            ("all, He, embeddings N(0, 0.02)", all_cfg.replace(init="he"), tcfg, True)]  # fmt: skip
    return out


def run_training(seed: int) -> list[dict]:
    rows = []
    for name, cfg, tcfg, redraw in training_variants():
        train, _, test, _ = classification_tensors(cfg.vocab_size, cfg.max_len)
        tcfg = tcfg.replace(seed=seed)
        seed_everything(seed)
        model = build_model(cfg)
        if redraw:
            with torch.no_grad():
                for emb in (model.embed.tok_emb, model.embed.pos_emb):
                    torch.nn.init.normal_(emb.weight, std=0.02)
        row = {"name": name, "seed": seed, "sharing": cfg.sharing, "init": cfg.init,
               "optimizer": tcfg.optimizer, "lr": tcfg.lr, "grad_clip": tcfg.grad_clip,
               "unique_params": count_parameters(model)}  # fmt: skip
        try:
            hist = train_model(model, train, tcfg, task="classify", progress=False)
        except TrainingDiverged as err:
            rows.append({**row, "diverged": True, "diverged_step": err.step})
            continue
        rows.append({**row, "diverged": False, "accuracy": evaluate(model, test)["accuracy"],
                     "final_train_loss": sum(hist["loss"][-10:]) / 10,
                     "tokens_per_s": hist["tokens_per_s"]})  # fmt: skip
    return rows


def run_embeddings(seed: int) -> list[dict]:
    cfg, tcfg, train, val = lm_setup()
    variants = {"untied": {}, "tied": {"tie_embeddings": True},
                "factorized + tied": {"embed_dim": cfg.d_model // 2, "tie_embeddings": True},
                "factorized": {"embed_dim": cfg.d_model // 2}}  # fmt: skip
    rows = []
    for name, changes in variants.items():
        seed_everything(seed)
        model = build_model(cfg.replace(**changes))
        hist = train_model(model, train, tcfg.replace(seed=seed), task="lm", progress=False)
        rows.append({"name": name, "seed": seed, "unique_params": count_parameters(model),
                     "val_loss": evaluate(model, val, task="lm")["loss"],
                     "final_train_loss": sum(hist["loss"][-10:]) / 10,
                     "tokens_per_s": hist["tokens_per_s"]})  # fmt: skip
    return rows


def run_vision(seed: int) -> list[dict]:
    from course_lib.experiments.vision import compare_plans, vision_preset
    from course_lib.nn.vision import PLANS

    size, tcfg = vision_preset("FAST")
    df = compare_plans(PLANS, size=size, train_cfg=tcfg.replace(seed=seed))
    return df.assign(seed=seed, name=df["plan"]).to_dict("records")


SETS = {"training": run_training, "embeddings": run_embeddings, "vision": run_vision}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("set", choices=sorted(SETS))
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,1,2")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out = RESULTS / f"{args.set}_seeds.csv"
    rows = []
    for seed in parse_seeds(args.seeds):  # seed-major: an early stop still covers every name
        rows += SETS[args.set](seed)
        pd.DataFrame(rows).to_csv(out, index=False)
        print(f"seed {seed}: {len(rows)} runs in {out.name}", flush=True)
    command = "python scripts/extra_seeds.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    info = sweep_provenance(pd.DataFrame(rows), preset=f"{args.set} (FAST)", command=command)
    out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
