"""course_lib.measure.cost: sharing changes memory for weights, not FLOPs or activations (notebook 08)."""

import pytest
import torch

from course_lib import ModelConfig, build_model, count_parameters
from course_lib.data.synthetic import synthetic_batch
from course_lib.measure.cost import (
    activation_memory,
    analytic_flops,
    counted_flops,
    inference_fn,
    measure_plan,
    rule_of_thumb_flops,
    train_step_fn,
    training_state_memory,
)
from course_lib.measure.timing import Timing, compare_times, median_time, paired_ratio
from course_lib.training.step import batch_loss

PLANS = [("none", None), ("all", None), ("cycle", 2), ("sequence", 2), ("attention", None)]
B, T = 3, 16


def tiny(**changes) -> ModelConfig:
    return ModelConfig.preset("tiny", **changes)


def built(cfg: ModelConfig):
    torch.manual_seed(0)
    return build_model(cfg)


@pytest.mark.parametrize("impl", ["manual", "sdpa"])
@pytest.mark.parametrize("task", ["classify", "lm"])
def test_counted_flops_equal_analytic_and_across_plans(impl, task):
    counts = set()
    for sharing, m in PLANS:
        cfg = tiny(sharing=sharing, n_blocks=m, attn_impl=impl, task=task, embed_dim=32)
        model = built(cfg)
        ids, _ = synthetic_batch(cfg, B, T)
        counted = counted_flops(model, ids)
        assert counted == analytic_flops(cfg, B, T).total, (sharing, impl, task)
        counts.add(counted)
    assert len(counts) == 1  # exactly the same FLOPs whatever the plan


def test_flops_grow_with_depth_not_with_blocks():
    base = analytic_flops(tiny(n_layers=4), B, T)
    assert analytic_flops(tiny(n_layers=8), B, T).attn_proj == 2 * base.attn_proj
    assert analytic_flops(tiny(n_layers=8, sharing="cycle", n_blocks=1), B, T).total == (
        analytic_flops(tiny(n_layers=8), B, T).total
    )


def test_rule_of_thumb_differs_by_biases_and_norms_only():
    # LM: every weight runs once per token, so 2 x per-use params + scores over-counts the
    # counter by exactly 2 FLOPs per bias/LayerNorm entry (they are not matrix products).
    for sharing, m in PLANS:
        cfg = tiny(sharing=sharing, n_blocks=m, task="lm", embed_dim=32)
        model = built(cfg)
        ids, _ = synthetic_batch(cfg, B, T)
        rule = rule_of_thumb_flops(model, cfg, T)
        counted = counted_flops(model, ids) / (B * T)
        assert rule["rule_flops_per_token"] - counted == 2 * rule["per_use_bias_and_norm_params"]
        assert abs(rule["rule_flops_per_token"] / counted - 1) < 0.03


def test_rule_uses_per_use_not_unique_params():
    cfg = tiny(sharing="all", task="lm")
    model = built(cfg)
    rule = rule_of_thumb_flops(model, cfg, T)
    ids, _ = synthetic_batch(cfg, B, T)
    counted = counted_flops(model, ids) / (B * T)
    unique_rule = 2 * (count_parameters(model) - cfg.vocab_size * 64 - cfg.max_len * 64)
    assert rule["rule_flops_per_token"] > counted > 1.5 * unique_rule  # unique badly under-counts


def test_backward_costs_about_twice_forward():
    cfg = tiny(task="lm")
    model = built(cfg)
    ids, _ = synthetic_batch(cfg, B, T)
    fwd, both = counted_flops(model, ids), counted_flops(model, ids, backward=True)
    assert both == 3 * fwd  # manual attention: every matmul has two backward matmuls


@pytest.mark.parametrize("sharing,m", [("all", None), ("cycle", 2), ("attention", None)])
def test_state_memory_ratio_equals_unique_param_ratio(sharing, m):
    mems, uniques = [], []
    for s, mm in [("none", None), (sharing, m)]:
        cfg = tiny(sharing=s, n_blocks=mm)
        model = built(cfg)
        ids, y = synthetic_batch(cfg, B, T)
        mem = training_state_memory(model, ids, y)
        assert mem.params == mem.grads == 4 * count_parameters(model)
        n_tensors = len(list(model.parameters()))  # AdamW keeps a 4-byte step per tensor
        assert mem.optimizer == 2 * mem.params + 4 * n_tensors
        mems.append(mem.total)
        uniques.append(count_parameters(model))
    assert mems[1] / mems[0] == pytest.approx(uniques[1] / uniques[0], rel=0.01)
    assert mems[1] < mems[0]


@pytest.mark.parametrize("impl", ["manual", "sdpa"])
def test_activation_bytes_equal_across_plans_at_equal_depth(impl):
    sizes = set()
    for sharing, m in PLANS:
        cfg = tiny(sharing=sharing, n_blocks=m, attn_impl=impl)
        model = built(cfg)
        ids, y = synthetic_batch(cfg, B, T)
        sizes.add(activation_memory(model, ids, y)["saved_bytes"])
    assert len(sizes) == 1


def test_activation_bytes_grow_with_depth_and_exclude_parameters():
    def saved(n):
        cfg = tiny(n_layers=n, sharing="all")
        ids, y = synthetic_batch(cfg, B, T)
        return activation_memory(built(cfg), ids, y)["saved_bytes"]

    s2, s4, s8 = saved(2), saved(4), saved(8)
    assert s4 - s2 == (s8 - s4) / 2 > 0  # the same bytes per extra layer
    per_layer = (s4 - s2) // 2
    assert per_layer >= 4 * B * T * 64 * 4  # at least a few (B, T, d) float tensors


def test_synthetic_batch_rejects_too_long():
    with pytest.raises(ValueError, match="seq_len"):
        synthetic_batch(tiny(), 2, 65)


def test_timing_helpers_run_and_train():
    cfg = tiny(n_layers=1)
    model = built(cfg)
    ids, y = synthetic_batch(cfg, B, T)
    before = batch_loss(model, ids, y).item()
    step = train_step_fn(model, ids, y, lr=1e-2)
    t = median_time(step, warmup=1, repeats=3)
    assert t.repeats == 3 and 0 < t.min_s <= t.median_s
    assert batch_loss(model, ids, y).item() < before  # the steps really trained
    assert median_time(inference_fn(model, ids), warmup=0, repeats=1).median_s > 0
    with pytest.raises(ValueError, match="repeats"):
        median_time(step, repeats=0)


def test_measure_plan_row():
    row = measure_plan(tiny(sharing="cycle", n_blocks=2), batch_size=2, seq_len=8, timings=True,
                       large_batch=4, repeats=1)  # fmt: skip
    assert row["flops_per_token"] == row["counted_flops_per_token"]
    assert row["params_bytes"] == 4 * row["unique_params"]
    assert row["per_use_params"] > row["unique_params"]
    assert {"train_step_ms", "latency_b1_ms", "latency_b4_ms"} <= set(row)
    assert row["n_blocks"] == 2  # M itself
    unshared = measure_plan(tiny(), batch_size=2, seq_len=8)
    assert unshared["n_blocks"] is None and "train_step_ms" not in unshared  # no M, no sentinel


def test_compare_times_interleaves_every_function():
    calls = []
    fns = {k: (lambda k=k: calls.append(k)) for k in "abc"}
    t = compare_times(fns, warmup=1, repeats=4)
    assert set(t) == {"a", "b", "c"} and all(v.repeats == 4 for v in t.values())
    assert calls[3:6] == ["a", "b", "c"] and calls[6:9] == ["b", "c", "a"]  # rotated order
    with pytest.raises(ValueError, match="warmup"):
        compare_times(fns, warmup=-1)
    assert len(t["a"].times_s) == 4 and t["a"].min_s == min(t["a"].times_s)


def test_paired_ratio_is_the_median_of_per_round_ratios():
    slow = Timing(2.0, 1.0, 3, (1.0, 9.0, 2.0))  # round 2 hit a busy spell ...
    fast = Timing(1.0, 0.5, 3, (0.5, 4.5, 1.0))  # ... for both
    assert paired_ratio(slow, fast) == 2.0
    with pytest.raises(ValueError, match="same compare_times"):
        paired_ratio(slow, Timing(1.0, 1.0, 1, (1.0,)))


def _load_benchmark(name: str):
    import importlib.util
    import sys
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "benchmarks"
    sys.path.insert(0, str(folder))  # the scripts import their sibling _common.py
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def test_encoder_benchmark_runs_and_models_are_identical(tmp_path, capsys):
    bench = _load_benchmark("encoder_vs_torch")
    out = tmp_path / "enc.json"
    args = ["--d-model", "32", "--d-ff", "64", "--n-layers", "2", "--batch", "2", "--seq-len", "8",
            "--repeats", "1", "--warmup", "0", "--device", "cpu", "--out", str(out)]  # fmt: skip
    for extra in ([], ["--component", "attention"],
                  ["--post-ln", "--activation", "relu", "--modes", "forward_eval"]):  # fmt: skip
        payload = bench.main(args + extra)
        assert payload["max_abs_diff"] < 1e-4  # same weights, same function as PyTorch's
        assert payload["torch_eval_fast_path"] is True
    assert set(payload["results"]) == {"forward_eval"}
    assert "ratio_sdpa_vs_torch" in payload["results"]["forward_eval"]
    assert payload["results"]["forward_eval"]["noise_floor"] is None  # 1 round: no floor
    row = bench.main(args[:-7] + ["4", "--warmup", "0", "--device", "cpu", "--modes",
                                  "forward_train"])["results"]["forward_train"]  # fmt: skip
    assert row["noise_floor"] >= 0
    assert row["verdict_sdpa_vs_torch"] in ("faster", "slower", "within noise")
    assert out.exists() and "sdpa/torch" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--modes"):
        bench.main(args + ["--modes", "backward"])


def test_sharing_benchmark_runs(tmp_path):
    bench = _load_benchmark("sharing_speed")
    payload = bench.main(["--d-model", "32", "--d-ff", "64", "--n-layers", "4", "--seq-len", "8",
                          "--train-batch", "2", "--large-batch", "4", "--repeats", "4",
                          "--warmup", "0", "--device", "cpu", "--clock", "thread"])  # fmt: skip
    res = payload["results"]
    assert set(res) == {"none", "none twin", "all", "cycle(M=2)", "sequence(M=2)"}
    assert res["none"]["train_step_ratio"] == 1.0
    for what in ("forward", "backward", "optimizer", "train_step", "latency_b1", "latency_b4"):
        assert res["all"][f"{what}_verdict"] in ("faster", "slower", "within noise")
        assert res["all"][f"{what}_floor"] == res["none"][f"{what}_floor"] >= 0
    assert (
        res["all"]["unique_params"]
        < res["cycle(M=2)"]["unique_params"]
        < res["none"]["unique_params"]
    )
    with pytest.raises(SystemExit, match="even"):
        bench.main(["--n-layers", "3"])
