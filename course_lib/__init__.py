"""course_lib: the helper package of the course on Transformers and parameter sharing.

The public API that notebooks and tests rely on::

    from course_lib import ModelConfig, build_model, count_parameters
"""

from .config import PRESETS, SHARING_STRATEGIES, ModelConfig, TrainConfig
from .layers import Block, FeedForward, MultiHeadSelfAttention, block_parameter_count, make_block
from .measure import (
    count_parameters,
    count_parameters_per_use,
    formula_parameter_count,
    parameter_breakdown,
    parameter_bytes,
    shared_groups,
    shares_storage,
)
from .model import TransformerClassifier, TransformerLM, build_model
from .runtime import get_device, get_mode, is_fast, seed_everything
from .sharing import SharingPlan

__all__ = [
    "PRESETS",
    "SHARING_STRATEGIES",
    "Block",
    "FeedForward",
    "ModelConfig",
    "MultiHeadSelfAttention",
    "SharingPlan",
    "TrainConfig",
    "TransformerClassifier",
    "TransformerLM",
    "block_parameter_count",
    "build_model",
    "count_parameters",
    "count_parameters_per_use",
    "formula_parameter_count",
    "get_device",
    "get_mode",
    "is_fast",
    "make_block",
    "parameter_breakdown",
    "parameter_bytes",
    "seed_everything",
    "shared_groups",
    "shares_storage",
]
