"""A small vision transformer with cross-layer sharing, on 8x8 digits (notebook 10).

Follows Dosovitskiy et al. (2021), "An Image is Worth 16x16 Words": cut each image into
p x p patches, embed every patch with one linear map, put a learned class token in
front, add learned position embeddings, run a Transformer encoder and classify from the
class token. The encoder is ``course_lib.nn.model.LayerStack``, built from the same
``ModelConfig`` and ``SharingPlan`` as the text models, so every sharing strategy of
notebooks 04-05 (ALBERT's all / attention / FFN, Takase & Kiyono's cycle, ...) applies
unchanged: only the input end (patches instead of tokens) and the read-out differ.

Data: scikit-learn's bundled digits (``sklearn.datasets.load_digits``: 1,797 grey 8x8
images of the digits 0-9, values 0-16), shipped inside the scikit-learn package, so
nothing is downloaded. Training the plans and comparing them is
``course_lib.experiments.vision``'s; this module only builds and counts.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.utils.data import TensorDataset

from course_lib.config import ModelConfig
from course_lib.i18n import _
from course_lib.nn.checks import check_model_config
from course_lib.nn.layers import attention_parameter_count, ffn_parameter_count
from course_lib.nn.model import LayerStack, init_weights
from course_lib.nn.sharing import SharingPlan

IMAGE_SIZE = 8
N_CLASSES = 10
PATCH_SIZES = (1, 2, 4, 8)  # the divisors of 8
# How far (accuracy, 0-1) a live FAST run may fall outside the range of the shipped seeds
# before notebook 10 calls it more than noise. Measured 2026-12-02 on the AMD EPYC that made
# the seeds: seeds 0-2 under ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE and 0-1 under
# avx2 gave the shipped accuracies exactly (450 test images: one image is 0.22 points), and
# the seeds spread over 2.4 to 5.1 points per plan (standard deviation 1.0 to 2.0). Another
# machine draws another trajectory; 5 points leaves room for that.
SEED_MARGIN = 0.05

# The plans notebook 10 compares: ALBERT's three (Lan et al. 2020) and a CYCLE of
# M = 2 blocks (Takase & Kiyono 2021), against no sharing.
PLANS: dict[str, dict] = {
    "none": dict(sharing="none"),
    "all": dict(sharing="all"),
    "attention": dict(sharing="attention"),
    "ffn": dict(sharing="ffn"),
    "cycle": dict(sharing="cycle", n_blocks=2),
}


@functools.lru_cache(maxsize=4)
def load_digits_tensors(
    test_fraction: float = 0.25, seed: int = 0
) -> tuple[TensorDataset, TensorDataset]:
    """(train, test) TensorDatasets of (images (n, 8, 8) float in [0, 1], labels (n,) long),
    a stratified split (every digit in the same proportion in both)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not isinstance(test_fraction, float) or not 0.0 < test_fraction < 1.0:
        raise ValueError(
            _("test_fraction={value} is not allowed: a float in (0, 1)").format(
                value=repr(test_fraction)
            )
        )
    digits = load_digits()
    idx_train, idx_test = train_test_split(
        range(len(digits.target)),
        test_size=test_fraction,
        random_state=seed,
        stratify=digits.target,
    )
    images = torch.tensor(digits.images, dtype=torch.float32) / 16.0  # (1797, 8, 8)
    bad = ~torch.isfinite(images)
    if bad.any():
        first = int(bad.flatten(1).any(1).nonzero()[0, 0])
        raise ValueError(
            _(
                "the digits data hold {n} non-finite pixel(s) (NaN or inf), the "
                "first in image {first}: reinstall scikit-learn or drop those images"
            ).format(n=int(bad.sum()), first=first)
        )
    labels = torch.tensor(digits.target, dtype=torch.long)
    train = TensorDataset(images[idx_train], labels[idx_train])
    test = TensorDataset(images[idx_test], labels[idx_test])
    return train, test


def _check_patch_size(patch_size: int, image_size: int = IMAGE_SIZE) -> None:
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(
            _("patch_size={value} is not allowed: a positive integer").format(
                value=repr(patch_size)
            )
        )
    if image_size % patch_size:
        divisors = [p for p in range(1, image_size + 1) if image_size % p == 0]
        raise ValueError(
            _(
                "patch_size={value} is not allowed: it must divide the image size "
                "{image_size}; choose one of {divisors}"
            ).format(value=repr(patch_size), image_size=image_size, divisors=divisors)
        )


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, H, W) -> (B, n_patches, p*p): patches numbered row by row, pixels row by row."""
    b, h, w = images.shape
    _check_patch_size(patch_size, h)
    _check_patch_size(patch_size, w)
    p = patch_size
    x = images.reshape(b, h // p, p, w // p, p)  # (B, rows, p, cols, p)
    x = x.permute(0, 1, 3, 2, 4)  # (B, rows, cols, p, p): each patch's pixels together
    return x.reshape(b, (h // p) * (w // p), p * p)  # (B, n_patches, p*p)


class PatchEmbedding(nn.Module):
    """One linear map from a patch's p*p pixels to d_model (the ViT's "tokenizer")."""

    def __init__(self, patch_size: int, d_model: int):
        super().__init__()
        _check_patch_size(patch_size)
        self.patch_size = patch_size
        self.proj = nn.Linear(patch_size * patch_size, d_model)  # p*p*d + d

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(patchify(images, self.patch_size))  # (B, n_patches, d)


class VisionTransformer(nn.Module):
    """Patches + class token + learned positions -> course_lib's LayerStack -> head."""

    def __init__(self, cfg: ModelConfig, patch_size: int = 2, image_size: int = IMAGE_SIZE):
        super().__init__()
        cfg = check_model_config(cfg)
        _check_patch_size(patch_size, image_size)
        n_patches = (image_size // patch_size) ** 2
        if cfg.max_len < n_patches + 1:
            raise ValueError(
                _(
                    "max_len={max_len} is not allowed: {patch}x{patch} patches of a "
                    "{size}x{size} image need max_len >= {need} (patches + class)"
                ).format(max_len=cfg.max_len, patch=patch_size, size=image_size, need=n_patches + 1)
            )
        d = cfg.d_model
        self.cfg, self.patch_size, self.n_patches = cfg, patch_size, n_patches
        self.image_size = image_size
        self.patch_embed = PatchEmbedding(patch_size, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))  # d
        self.pos_emb = nn.Parameter(torch.zeros(1, n_patches + 1, d))  # (n_patches + 1) * d
        self.stack = LayerStack(cfg)  # the sharing plan acts here, as for text
        self.head = nn.Linear(d, cfg.n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        size = (self.image_size, self.image_size)
        if images.dim() != 3 or tuple(images.shape[1:]) != size or not images.is_floating_point():
            raise ValueError(
                _(
                    "images of shape {shape} and dtype {dtype} are not "
                    "allowed: the model takes float images of shape (batch, {h}, {w})"
                ).format(shape=tuple(images.shape), dtype=images.dtype, h=size[0], w=size[1])
            )
        x = self.patch_embed(images)  # (B, n_patches, d)
        cls = self.cls_token.expand(x.size(0), -1, -1)  # (B, 1, d)
        x = torch.cat([cls, x], dim=1) + self.pos_emb  # (B, n_patches + 1, d)
        x = self.stack(x)  # no mask: every patch attends to every patch
        return self.head(x[:, 0])  # (B, n_classes), read from the class token


def vit_config(sharing: str = "none", **changes) -> ModelConfig:
    """A ModelConfig for the digits ViT: 10 classes, 2x2 patches (16 + 1 positions).

    ``vocab_size`` is unused (images have no vocabulary) and kept at its minimum, 1."""
    base = dict(vocab_size=1, d_model=32, n_heads=4, d_ff=64, n_layers=6, max_len=17, init="xavier")
    return ModelConfig(**{**base, "sharing": sharing, "n_classes": N_CLASSES, **changes})


def build_vit(cfg: ModelConfig, patch_size: int = 2) -> VisionTransformer:
    """The ViT ``cfg`` describes, initialised like the text models (``cfg.init``)."""
    model = VisionTransformer(cfg, patch_size)
    init_weights(model, cfg.init)
    nn.init.normal_(model.cls_token, std=0.02)
    nn.init.normal_(model.pos_emb, std=0.02)
    return model


def vit_parameter_count(cfg: ModelConfig, patch_size: int = 2) -> int:
    """The exact unique parameter count of ``build_vit(cfg, patch_size)``, by formula."""
    _check_patch_size(patch_size)
    d, n = cfg.d_model, (IMAGE_SIZE // patch_size) ** 2
    plan = SharingPlan.from_config(cfg)
    total = patch_size * patch_size * d + d  # patch embedding
    total += d + (n + 1) * d  # class token, positions
    total += plan.n_attn * attention_parameter_count(d) + plan.n_ffn * ffn_parameter_count(
        d, cfg.d_ff
    )
    total += 2 * d if cfg.norm_first else 0  # final LayerNorm of a pre-LN stack
    return total + d * cfg.n_classes + cfg.n_classes  # head


def vit_forward_flops(cfg: ModelConfig, patch_size: int = 2, batch_size: int = 1) -> int:
    """Forward FLOPs of the matrix products (2 per multiply-add), as PyTorch's counter
    counts them. Depends on the depth N, never on how many distinct blocks there are."""
    d, n = cfg.d_model, (IMAGE_SIZE // patch_size) ** 2
    t = n + 1  # tokens: patches + class token
    per_layer = 8 * t * d * d + 4 * t * t * d + 4 * t * d * cfg.d_ff  # QKVO, scores+mix, FFN
    one = 2 * n * patch_size**2 * d + cfg.n_layers * per_layer + 2 * d * cfg.n_classes
    return batch_size * one
