"""Bad configurations fail early with a message naming the field and what is allowed."""

import pytest

from course_lib import ModelConfig, TrainConfig

BAD_MODEL = [
    (dict(d_model=250, n_heads=4), "d_model", "divisible by n_heads"),
    (dict(sharing="albert"), "sharing", "'all'"),
    (dict(sharing="cycle", n_blocks=None), "n_blocks", "needs n_blocks"),
    (dict(sharing="cycle", n_layers=4, n_blocks=6), "n_blocks", "<= n_layers=4"),
    (dict(sharing="sequence", n_blocks=0), "n_blocks", ">= 1"),
    (dict(dropout=-0.1), "dropout", "[0, 1)"),
    (dict(dropout=1.0), "dropout", "[0, 1)"),
    (dict(n_layers=0), "n_layers", ">= 1"),
    (dict(n_heads=2.5), "n_heads", "integer"),
    (dict(vocab_size=-3), "vocab_size", ">= 1"),
    (dict(task="translate"), "task", "'classify'"),
    (dict(n_classes=1), "n_classes", ">= 2"),
    (dict(embed_dim=512, d_model=256), "embed_dim", "<= d_model=256"),
    (dict(tie_embeddings=True, task="classify"), "tie_embeddings", "task='lm'"),
    (dict(attn_impl="flash"), "attn_impl", "'sdpa'"),
    (dict(activation="tanh"), "activation", "'gelu'"),
    (dict(init="orthogonal"), "init", "'xavier'"),
    (dict(pad_id=1000, vocab_size=1000), "pad_id", "[0, 1000)"),
    (dict(norm_first="yes"), "norm_first", "True or False"),
]


@pytest.mark.parametrize("changes, field, allowed", BAD_MODEL)
def test_bad_model_config_names_field(changes, field, allowed):
    with pytest.raises(ValueError) as err:
        ModelConfig(**changes)
    msg = str(err.value)
    assert msg.startswith(f"{field}="), msg
    assert allowed in msg, msg


BAD_TRAIN = [
    (dict(steps=0), "steps"),
    (dict(lr=0), "lr"),
    (dict(lr=-1e-3), "lr"),
    (dict(batch_size=0), "batch_size"),
    (dict(grad_clip=0.0), "grad_clip"),
    (dict(optimizer="lion"), "optimizer"),
    (dict(device="tpu"), "device"),
    (dict(amp="yes"), "amp"),
]


@pytest.mark.parametrize("changes, field", BAD_TRAIN)
def test_bad_train_config_names_field(changes, field):
    with pytest.raises(ValueError, match=rf"^{field}="):
        TrainConfig(**changes)


def test_unknown_field_from_dict_is_named():
    with pytest.raises(ValueError, match="n_layer"):
        ModelConfig.from_dict({"n_layer": 3})


def test_unknown_preset_lists_choices():
    with pytest.raises(ValueError, match="preset=.*'tiny'"):
        ModelConfig.preset("huge")


def test_replace_revalidates():
    cfg = ModelConfig()
    with pytest.raises(ValueError, match="^n_heads="):
        cfg.replace(n_heads=0)


def test_round_trip_dict():
    cfg = ModelConfig(sharing="cycle", n_blocks=3, task="lm", tie_embeddings=True)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
