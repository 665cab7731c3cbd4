"""Reference solutions for the exercises of notebook 10 (beyond text: a vision transformer).

Try the exercises first; ``course_lib.exercises.nb10`` tells you what is wrong with your
answer. Load these with ``course_lib.exercises.framework.load_solution("10_beyond_text")``.
"""

import torch

from course_lib.nn.layers import attention_parameter_count, ffn_parameter_count
from course_lib.nn.sharing import SharingPlan


def patchify(images: torch.Tensor, p: int) -> torch.Tensor:
    """Exercise 1: (B, H, W) -> (B, n_patches, p*p), patches numbered row by row."""
    b, h, w = images.shape
    x = images.reshape(b, h // p, p, w // p, p)  # (B, rows, p, cols, p)
    x = x.permute(0, 1, 3, 2, 4)  # (B, rows, cols, p, p)
    return x.reshape(b, -1, p * p)  # (B, rows*cols, p*p)


def vit_parameter_count(cfg, p: int) -> int:
    """Exercise 2: unique parameters of the digits ViT, each shared block once."""
    d, n_patches = cfg.d_model, (8 // p) ** 2
    plan = SharingPlan.from_config(cfg)
    patch_embed = p * p * d + d
    cls_and_positions = d + (n_patches + 1) * d
    blocks = plan.n_attn * attention_parameter_count(d) + plan.n_ffn * ffn_parameter_count(
        d, cfg.d_ff
    )
    final_norm = 2 * d if cfg.norm_first else 0
    head = d * cfg.n_classes + cfg.n_classes
    return patch_embed + cls_and_positions + blocks + final_norm + head


def forward_flops(cfg, p: int) -> int:
    """Exercise 3: forward FLOPs of one image; N = n_layers, whatever the sharing."""
    d, n_patches = cfg.d_model, (8 // p) ** 2
    t = n_patches + 1  # tokens
    per_layer = 2 * (4 * t * d * d) + 2 * (2 * t * t * d) + 2 * (2 * t * d * cfg.d_ff)
    patch_embed = 2 * n_patches * p * p * d
    head = 2 * d * cfg.n_classes
    return patch_embed + cfg.n_layers * per_layer + head


def pick_plan(df, budget: int):
    """Exercise 4: the most accurate plan within a budget of unique parameters, or None."""
    fits = df[df["unique_params"] <= budget]
    if fits.empty:
        return None
    return fits.loc[fits["test_accuracy"].idxmax(), "plan"]
