"""The digits vision transformer (notebook 10): patches, sharing, counts, FLOPs, training.
The notebook's self-checks are tested in tests/exercises/test_checks_vision.py."""

import json
from pathlib import Path

import matplotlib
import pytest
import torch

from course_lib import TrainConfig, count_parameters, count_parameters_per_use, shares_storage
from course_lib.experiments.vision import compare_plans, train_and_evaluate, vision_preset
from course_lib.measure.cost import counted_flops
from course_lib.nn.model import LayerStack
from course_lib.nn.sharing import SharingPlan
from course_lib.nn.vision import (
    PLANS,
    SEED_MARGIN,
    build_vit,
    load_digits_tensors,
    patchify,
    vit_config,
    vit_forward_flops,
    vit_parameter_count,
)
from course_lib.views.model_figures import plot_comparison

matplotlib.use("Agg")  # figures in tests only; notebooks keep the inline backend


def test_digits_split_is_stratified_and_scaled():
    train, test = load_digits_tensors()
    (xtr, ytr), (xte, yte) = train.tensors, test.tensors
    assert xtr.shape == (1347, 8, 8) and xte.shape == (450, 8, 8)
    assert xtr.dtype == torch.float32 and 0.0 <= xtr.min() and xtr.max() <= 1.0
    per_digit = torch.bincount(torch.cat([ytr, yte]), minlength=10)
    in_test = torch.bincount(yte, minlength=10)
    assert ((in_test - 0.25 * per_digit).abs() <= 1).all()  # each digit 25% in test
    with pytest.raises(ValueError, match=r"^test_fraction=1.5 is not allowed"):
        load_digits_tensors(1.5)


def test_patchify_cuts_squares_row_by_row():
    images = torch.arange(2 * 64, dtype=torch.float32).view(2, 8, 8)
    for p in (1, 2, 4, 8):
        patches = patchify(images, p)
        per_row = 8 // p
        assert patches.shape == (2, per_row**2, p * p)
        for k in range(per_row**2):
            r, c = divmod(k, per_row)
            square = images[:, r * p : (r + 1) * p, c * p : (c + 1) * p].reshape(2, -1)
            assert torch.equal(patches[:, k], square)
    with pytest.raises(ValueError, match=r"^patch_size=3 is not allowed: .*\[1, 2, 4, 8\]"):
        patchify(images, 3)


@pytest.mark.parametrize("plan", list(PLANS))
def test_vit_uses_the_course_layer_stack_and_counts_agree(plan):
    cfg = vit_config(**PLANS[plan])
    model = build_vit(cfg)
    assert type(model.stack) is LayerStack  # the text models' stack, not a copy of it
    assert model(torch.rand(5, 8, 8)).shape == (5, 10)
    assert count_parameters(model) == vit_parameter_count(cfg)
    sets = SharingPlan.from_config(cfg)
    attn = {id(layer.attn) for layer in model.stack.layers}
    ffn = {id(layer.ffn) for layer in model.stack.layers}
    assert (len(attn), len(ffn)) == (sets.n_attn, sets.n_ffn)
    unshared = build_vit(vit_config())
    assert count_parameters_per_use(model) == count_parameters(unshared)  # same compute graph
    if plan == "all":
        q = [layer.attn.fn.q_proj.weight for layer in model.stack.layers]
        assert all(shares_storage(q[0], w) for w in q[1:])


def test_flops_depend_on_depth_not_on_sharing(one_thread):
    images = torch.rand(3, 8, 8)
    counts = set()
    for plan in PLANS.values():
        cfg = vit_config(**plan)
        counted = counted_flops(build_vit(cfg), images)
        assert counted == vit_forward_flops(cfg, batch_size=3)
        counts.add(counted)
    assert len(counts) == 1
    deeper = vit_config("all", n_layers=12)
    assert vit_forward_flops(deeper) > vit_forward_flops(vit_config("all"))


def test_bad_sizes_name_the_field():
    with pytest.raises(ValueError, match=r"^max_len=5 is not allowed: .*max_len >= 17"):
        build_vit(vit_config(max_len=5), patch_size=2)
    with pytest.raises(ValueError, match=r"^mode='SLOW' is not allowed"):
        vision_preset("SLOW")


def test_training_beats_chance_by_far_and_repeats(one_thread):
    tc = TrainConfig(steps=100, batch_size=64, lr=3e-3, warmup_steps=20, seed=0)
    a = train_and_evaluate(vit_config("all"), tc)
    assert a["test_accuracy"] > 0.6  # chance is 0.1 with ten digits
    assert a["unique_params"] < a["per_use_params"]
    short = tc.replace(steps=15, warmup_steps=3)
    r1 = train_and_evaluate(vit_config("cycle", n_blocks=2), short)
    r2 = train_and_evaluate(vit_config("cycle", n_blocks=2), short)
    assert r1["test_loss"] == r2["test_loss"]  # seeded: the same run twice


def test_compare_plans_table_and_figure(one_thread):
    plans = {k: PLANS[k] for k in ("none", "all")}
    tc = TrainConfig(steps=5, batch_size=32, warmup_steps=1)
    df = compare_plans(plans, size=dict(n_layers=2), train_cfg=tc)
    assert list(df["plan"]) == ["none", "all"]
    assert df.loc[1, "unique_params"] < df.loc[0, "unique_params"]
    assert df["per_use_params"].nunique() == 1 and set(df["layers"]) == {2}
    assert list(df["attn_sets"]) == [2, 1] and df["test_accuracy"].between(0, 1).all()
    ax = plot_comparison(df)
    assert len(ax.texts) == 2 and ax.get_xlabel().startswith("unique parameters")


def test_notebook_10_claims_no_copy_of_a_shipped_run():
    path = Path(__file__).resolve().parents[2] / "notebooks" / "10_beyond_text.ipynb"
    text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    for claim in ("is your run", "yours, seed 0", "to the last digit"):
        assert claim not in text, f"notebook 10 says {claim!r}: a live run is not a shipped one"
    assert 0 < SEED_MARGIN < 0.2  # a margin, not a licence for any accuracy
