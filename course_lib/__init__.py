"""course_lib: the helper package of the course on Transformers and parameter sharing.

The public API that notebooks and tests rely on::

    from course_lib import ModelConfig, build_model, count_parameters

``set_language("zh")`` in a notebook's first cell switches every message course_lib prints to
Chinese, as ``COURSE_LANG=zh`` does (``course_lib.i18n``).
"""

from course_lib.config import PRESETS, SHARING_STRATEGIES, ModelConfig, TrainConfig
from course_lib.i18n import set_language
from course_lib.nn.counts import (
    count_parameters,
    count_parameters_per_use,
    formula_parameter_count,
    parameter_breakdown,
    parameter_bytes,
    shared_groups,
    shares_storage,
)
from course_lib.nn.layers import (
    Block,
    FeedForward,
    MultiHeadSelfAttention,
    block_parameter_count,
    make_block,
)
from course_lib.nn.model import TransformerClassifier, TransformerLM, build_model
from course_lib.nn.sharing import SharingPlan
from course_lib.runtime import get_device, get_mode, is_fast, seed_everything

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
    "set_language",
    "shared_groups",
    "shares_storage",
]
