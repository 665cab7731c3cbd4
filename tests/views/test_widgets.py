"""The sharing explorer and the training panel, driven without a browser."""

import os
import random
import time

import ipywidgets
import pandas as pd
import pytest

import course_lib.nn.plan_summary as plan_summary
from course_lib import (
    ModelConfig,
    TrainConfig,
    build_model,
    count_parameters,
    count_parameters_per_use,
    formula_parameter_count,
)
from course_lib.nn.plan_summary import MAX_LAYERS, explore, strategy_from_switches, switches_of
from course_lib.training.step import TrainingDiverged
from course_lib.views.explorer import SharingExplorer
from course_lib.views.training_panel import TrainingPanel, table_html

STRATEGIES = ("none", "all", "attention", "ffn", "sequence", "cycle", "cycle_rev")


def test_runs_under_the_ipywidgets_major_version_asked_for():
    """`make unit` runs these tests under the venv's ipywidgets 8; `make widgets7` sets
    COURSE_IPYWIDGETS=7 and puts Colab's 7.7.1 first on the path."""
    major = int(ipywidgets.__version__.split(".")[0])
    assert major in (7, 8), ipywidgets.__version__
    want = os.environ.get("COURSE_IPYWIDGETS")
    if want:
        assert major == int(want), f"asked for ipywidgets {want}, got {ipywidgets.__version__}"


def random_settings(rng):
    d_model = rng.choice([16, 32, 48, 64])
    n_layers = rng.randint(1, 24)
    task = rng.choice(["classify", "lm"])
    return dict(
        strategy=rng.choice(STRATEGIES),
        n_layers=n_layers,
        n_blocks=rng.randint(1, n_layers),
        d_model=d_model,
        n_heads=rng.choice([h for h in (1, 2, 4, 8) if d_model % h == 0]),
        d_ff=rng.choice([8, 64, 96]),
        vocab_size=rng.randint(2, 300),
        task=task,
        embed_dim=rng.randint(1, d_model),
        tie_embeddings=task == "lm" and rng.random() < 0.5,
    )


def test_shown_counts_equal_the_built_model_for_random_settings():
    rng = random.Random(0)
    w = SharingExplorer()
    seen = set()
    for _ in range(24):
        s = random_settings(rng)
        w.set(**s)
        cfg = ModelConfig(
            vocab_size=s["vocab_size"], d_model=s["d_model"], n_heads=s["n_heads"],
            d_ff=s["d_ff"], n_layers=s["n_layers"], sharing=s["strategy"],
            n_blocks=s["n_blocks"] if s["strategy"] in ("sequence", "cycle", "cycle_rev") else None,
            task=s["task"], embed_dim=s["embed_dim"], tie_embeddings=s["tie_embeddings"],
        )  # fmt: skip
        model = build_model(cfg)
        n = count_parameters(model)
        assert w.message.value == "", w.message.value
        assert w.view.config == cfg
        assert w.view.unique_params == n == formula_parameter_count(cfg)
        assert w.view.per_use_params == count_parameters_per_use(model)
        assert w.count_label.value == f"unique parameters: {n:,}"
        assert w.memory_label.value == f"parameter memory at fp32: {n * 4 / 1e6:,.2f} MB"
        assert len(w.plot_out.outputs) == 1 and "image/png" in w.plot_out.outputs[0]["data"]
        assert w.view.plan.n_layers == s["n_layers"]
        seen.add(s["strategy"])
    assert seen == set(STRATEGIES)


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(strategy="cycle", n_layers=4, n_blocks=6), "n_blocks"),
        (dict(embed_dim=300), "embed_dim"),
        (dict(task="classify", tie_embeddings=True), "tie_embeddings"),
        (dict(d_model=250), "d_model"),
        (dict(d_ff=0), "d_ff"),
        (dict(vocab_size=0), "vocab_size"),
        (dict(embed_dim=0), "embed_dim"),
        (dict(strategy="sequence", share_ffn=False), "share_ffn"),
        (dict(strategy="cycle_rev", share_attention=False), "share_attention"),
    ],
)
def test_bad_combinations_show_a_message_naming_the_field(changes, field):
    w = SharingExplorer()
    for name, value in changes.items():
        control = w.sizes[name] if name in w.sizes else getattr(w, name)
        control.value = value
    assert f"{field}=" in w.message.value
    assert w.view.error.startswith(f"{field}=")
    assert w.count_label.value == "—"
    assert w.plot_out.outputs == ()
    assert "Traceback" not in w.message.value


def test_set_rejects_an_unknown_control():
    with pytest.raises(ValueError, match="^n_experts=4 is not allowed"):
        SharingExplorer().set(n_experts=4)


def test_albert_switches_and_dropdown_stay_in_step():
    w = SharingExplorer(strategy="none")
    assert (w.share_attention.value, w.share_ffn.value) == (False, False)
    w.share_attention.value = True
    assert w.strategy.value == "attention"
    w.share_ffn.value = True
    assert w.strategy.value == "all"
    w.share_attention.value = False
    assert w.strategy.value == "ffn"
    w.strategy.value = "cycle"
    assert (w.share_attention.value, w.share_ffn.value) == (True, True)
    assert not w.n_blocks.disabled
    w.strategy.value = "none"
    assert w.n_blocks.disabled and w.message.value == ""
    for s in ("none", "all", "attention", "ffn"):
        assert strategy_from_switches(*switches_of(s)) == s


def test_explore_counts_and_per_use():
    v = explore("all", n_layers=12, d_model=256, n_heads=4, d_ff=1024)
    none = explore("none", n_layers=12, d_model=256, n_heads=4, d_ff=1024)
    assert none.unique_params - v.unique_params == 11 * 789_760
    assert v.per_use_params == none.per_use_params == none.unique_params  # compute unchanged
    assert v.table.splitlines()[1] == "  layer  0: attention A0  ffn F0"
    assert "1,079,554 unique parameters" in v.summary()
    bad = explore("cycle", n_layers=12, n_blocks=None)
    assert bad.config is None and bad.error.startswith("n_blocks=None")


def test_albert_base_sizes_take_no_real_memory():
    v = explore("all", n_layers=12, d_model=768, n_heads=12, d_ff=3072, vocab_size=30000,
                embed_dim=128, max_len=512)  # fmt: skip
    cfg = v.config
    assert v.unique_params == formula_parameter_count(cfg)


@pytest.mark.parametrize("strategy, m", [("none", None), ("attention", None), ("cycle_rev", 7)])
def test_explore_counts_a_deep_model_without_building_its_layers(monkeypatch, strategy, m):
    """Issue 18: 1,000 layers took 10.6 s (every block built on the meta device). Now a
    one-layer model is built whatever N is, and the counts stay exact."""
    explore("none", n_layers=2)  # the first meta-device build pays torch's start-up
    built = []

    def recording_build(cfg):
        built.append(cfg.n_layers)
        return build_model(cfg)

    monkeypatch.setattr(plan_summary, "build_model", recording_build)
    started = time.perf_counter()
    v = explore(strategy, n_layers=MAX_LAYERS, n_blocks=m, d_model=64, n_heads=4, d_ff=128)
    elapsed = time.perf_counter() - started
    assert v.error is None and built == [1], (v.error, built)
    assert v.unique_params == formula_parameter_count(v.config)
    one_layer = build_model(v.config.replace(n_layers=1, sharing="none", n_blocks=None))
    block = one_layer.stack.layers[0]
    per_layer = count_parameters(block.attn) + count_parameters(block.ffn)
    assert v.per_use_params == count_parameters(one_layer) + (MAX_LAYERS - 1) * per_layer
    assert len(v.table.splitlines()) == MAX_LAYERS + 1
    assert elapsed < 1.0, f"explore(n_layers={MAX_LAYERS}) took {elapsed:.2f} s (issue 18: < 1 s)"


def test_explore_refuses_depths_beyond_its_cap_at_once():
    started = time.perf_counter()
    for n in (MAX_LAYERS + 1, 100_000, 10**12):
        v = explore("none", n_layers=n)
        assert v.config is None
        assert v.error.startswith(f"n_layers={n} is not allowed in the explorer"), v.error
        assert f"at most {MAX_LAYERS:,}" in v.error and "formula_parameter_count" in v.error
    assert time.perf_counter() - started < 1.0  # it hung at 100,000 (issue 18)


def fake_runner(cfg, train_cfg, dataset, progress):
    """Stands in for run_experiment: a record with the real counts, made-up metrics."""
    n = count_parameters(build_model(cfg))
    return {"sharing": cfg.sharing, "n_layers": cfg.n_layers, "n_blocks": cfg.n_blocks,
            "unique_params": n, "per_use_params": n, "accuracy": 0.5 + n / 1e7,
            "tokens_per_s": 1000.0, "train_time_s": 1.0}  # fmt: skip


def test_panel_fills_table_and_figure_with_an_injected_runner():
    cfg = ModelConfig.preset("tiny")
    panel = TrainingPanel(
        cfg, TrainConfig(steps=1, warmup_steps=0), runner=fake_runner, progress=False
    )
    panel.plan_select.value = ("none", "all", "cycle M=2")
    panel.train_button.click()
    df = panel.results
    assert list(df["name"]) == ["none", "all", "cycle M=2"]
    assert df.loc[df["name"] == "all", "unique_params"].item() == count_parameters(
        build_model(cfg.replace(sharing="all"))
    )
    assert "cycle M=2" in panel.table_out.outputs[0]["data"]["text/plain"]
    assert "image/png" in panel.figure_out.outputs[0]["data"]
    panel.plan_select.value = ("all",)
    panel.train_button.click()  # retraining replaces the row
    assert list(panel.results["name"]) == ["none", "cycle M=2", "all"]
    assert not panel.train_button.disabled


def test_panel_reports_bad_input_as_a_message():
    panel = TrainingPanel(ModelConfig.preset("tiny"), TrainConfig(steps=1, warmup_steps=0), runner=fake_runner,
                          plans={"too many blocks": {"sharing": "cycle", "n_blocks": 9}},
                          selected=())  # fmt: skip
    panel.train_button.click()
    assert "plans: pick at least one" in panel.status.value
    panel.plan_select.value = ("too many blocks",)
    panel.train_button.click()
    assert "n_blocks=9" in panel.status.value
    assert panel.results.empty and panel.table_out.outputs == ()


def test_panel_trains_with_the_real_runner():
    cfg = ModelConfig.preset("tiny", d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=32)
    panel = TrainingPanel(cfg, TrainConfig(steps=2, batch_size=8, warmup_steps=0),
                          progress=False)  # fmt: skip
    panel.plan_select.value = ("none", "all")
    panel.train_button.click()
    df = panel.results
    assert list(df["name"]) == ["none", "all"], panel.status.value
    assert df["accuracy"].between(0, 1).all()
    assert df["unique_params"].iloc[0] > df["unique_params"].iloc[1]
    assert isinstance(df, pd.DataFrame) and "image/png" in panel.figure_out.outputs[0]["data"]


def diverging_runner(cfg, train_cfg, dataset, progress):
    """fake_runner, but the 'ffn' plan diverges as a too-large learning rate would."""
    if cfg.sharing == "ffn":
        raise TrainingDiverged(3, 0.5, "the loss is nan", peak_lr=0.5)
    return fake_runner(cfg, train_cfg, dataset, progress)


def test_panel_keeps_finished_rows_when_a_later_plan_diverges():
    """Issue 18: a finished plan's row disappeared when a later plan diverged."""
    panel = TrainingPanel(ModelConfig.preset("tiny"), TrainConfig(steps=1, warmup_steps=0),
                          runner=diverging_runner, progress=False)  # fmt: skip
    panel.plan_select.value = ("none", "ffn", "all")
    panel.train()
    assert list(panel.results["name"]) == ["none", "all"]  # before and after the diverged one
    assert "ffn: training diverged at step 3" in panel.status.value
    assert "2 plan(s) trained, 2 in the table" in panel.status.value
    assert "image/png" in panel.figure_out.outputs[0]["data"]
    panel.plan_select.value = ("ffn",)
    panel.train()  # only a divergence: the table and its rows stay
    assert list(panel.results["name"]) == ["none", "all"]
    assert "not trained: ffn" in panel.status.value and "done" not in panel.status.value
    assert "all" in panel.table_out.outputs[0]["data"]["text/plain"]
    assert not panel.train_button.disabled


def test_panel_keeps_finished_rows_when_training_is_interrupted():
    def interrupted(cfg, train_cfg, dataset, progress):
        if cfg.sharing == "all":
            raise KeyboardInterrupt
        return fake_runner(cfg, train_cfg, dataset, progress)

    panel = TrainingPanel(ModelConfig.preset("tiny"), TrainConfig(steps=1, warmup_steps=0),
                          runner=interrupted, progress=False)  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        panel.train()
    assert list(panel.results["name"]) == ["none"] and not panel.train_button.disabled


def test_panel_table_is_compact_and_names_missing_values():
    df = pd.DataFrame([{"name": "a<b", "sharing": "none", "n_layers": 4, "n_blocks": float("nan"),
                        "unique_params": 268290, "accuracy": 0.50123, "train_time_s": 12.345,
                        "tokens_per_s": 123456.7}])  # fmt: skip
    text = table_html(df)
    for shown in ("a&lt;b", ">N<", ">M<", ">—<", ">268,290<", ">0.501<", ">12.3<", ">123,457<"):
        assert shown in text, (shown, text)


def test_readout_groups_the_digits_of_large_counts_and_memory():
    w = SharingExplorer(strategy="none", n_layers=24, vocab_size=2**40, d_model=1024, n_heads=8,
                        d_ff=4096, embed_dim=1024)  # fmt: skip
    mb = w.view.unique_params * 4 / 1e6
    assert w.memory_label.value == f"parameter memory at fp32: {mb:,.2f} MB" and mb > 1e6
    assert w.count_label.value.count(",") >= 5  # 1,125,900,... as the browser test shows it
