"""Notebooks 08 and 09: plausible wrong answers (``WRONG``, run by tests/exercises/test_checks.py with the
hint each must get), and the ACT solution agrees with ``course_lib.nn.looped``'s halting."""

import statistics

import torch

from course_lib.exercises import nb08, nb09
from course_lib.exercises.framework import load_solution
from course_lib.nn.looped import IGNORE, LoopedConfig, LoopedTransformer, algorithmic_batch

S08 = load_solution("08_speed_and_memory")
S09 = load_solution("09_depth_for_free")


# ---- wrong answers a learner might write


def _per_use_state(model):
    per_use = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    return 16 * per_use + 4 * len(list(model.parameters()))


def _no_step(model):
    return 16 * sum(p.numel() for p in model.parameters())


def _no_grads(model):
    params = list(model.parameters())
    return 12 * sum(p.numel() for p in params) + 4 * len(params)


def _all_on_m(quantity):
    return "M"


def _flops_on_m(quantity):
    return "M" if quantity == "flops_per_token" else S08.depends_on(quantity)


def _no_factor_two(d, d_ff, t):
    return S08.layer_flops_per_token(d, d_ff, t) // 2


def _no_scores(d, d_ff, t):
    return 8 * d * d + 4 * d * d_ff


def _qk_only(d, d_ff, t):
    return 8 * d * d + 2 * t * d + 4 * d * d_ff


def _ratio_of_medians(base, other):
    return statistics.median(base) / statistics.median(other)


def _inverted(base, other):
    return 1 / S08.paired_ratio(base, other)


def _mean_ratio(base, other):
    return sum(b / o for b, o in zip(base, other, strict=True)) / len(base)


def _every_plan(df):
    return {
        (d, int(n)): g["tokens_per_s"].max() / g["tokens_per_s"].min()
        for (d, n), g in df.groupby(["dataset", "n_layers"])
    }


def _min_over_max(df):
    return {k: 1 / v for k, v in S08.noise_floor(df).items()}


def _share_all(cfg, factor):
    return cfg.replace(n_layers=factor * cfg.n_layers, sharing="all")


def _wrong_m(cfg, factor):
    return cfg.replace(n_layers=factor * cfg.n_layers, sharing="cycle", n_blocks=1 + cfg.n_layers)


def _halt_at_one(p, eps):
    return S09.act_halting(p, 0.0)


def _last_weight_p(p, eps):
    n, w = S09.act_halting(p, eps)
    w = w.clone()
    w[n - 1] = p[n - 1]
    return n, w


def _never_forced(p, eps):
    n, w = S09.act_halting(p, eps)
    return (n + 1, w) if float(p.sum()) < 1 - eps else (n, w)


def _all_positions(pred, targets):
    return (pred == targets).all(1).float().mean().item()


def _digit_accuracy(pred, targets):
    slots = targets != IGNORE
    return (pred == targets)[slots].float().mean().item()


# ---- notebook 08, more mistakes (issue 17)


def _state_in_mb(model):
    return S08.training_state_bytes(model) / 2**20


def _state_weights_only(model):
    return 4 * sum(p.numel() for p in model.parameters())


def _state_int64_steps(model):
    params = list(model.parameters())
    return 16 * sum(p.numel() for p in params) + 8 * len(params)


def _state_one_step_counter(model):
    return 16 * sum(p.numel() for p in model.parameters()) + 4


def _depends_lower_case(quantity):
    return S08.depends_on(quantity).lower()


def _gradients_per_use(quantity):
    return "N" if quantity == "gradients" else S08.depends_on(quantity)


def _allreduce_per_layer(quantity):
    return "N" if quantity == "allreduce_bytes" else S08.depends_on(quantity)


def _adamw_per_layer(quantity):
    return "N" if quantity == "adamw_state" else S08.depends_on(quantity)


def _flops_per_sequence(d, d_ff, t):
    return S08.layer_flops_per_token(d, d_ff, t) * t


def _flops_t_squared(d, d_ff, t):
    return 8 * d * d + 4 * t * t * d + 4 * d * d_ff


def _flops_one_ffn_matrix(d, d_ff, t):
    return 8 * d * d + 4 * t * d + 2 * d * d_ff


def _flops_three_projections(d, d_ff, t):
    return 6 * d * d + 4 * t * d + 4 * d * d_ff


def _ratios_not_median(base, other):
    return [b / o for b, o in zip(base, other, strict=True)]


def _ratio_after_sorting(base, other):
    return statistics.median(b / o for b, o in zip(sorted(base), sorted(other), strict=True))


def _ratio_of_means(base, other):
    return statistics.mean(base) / statistics.mean(other)


def _floor_as_series(df):
    block = df[df["sharing"].isin(["sequence", "cycle", "cycle_rev"])]
    g = block.groupby(["dataset", "n_layers"])["tokens_per_s"]
    return g.max() / g.min()


def _floor_string_keys(df):
    return {f"{d}-{n}": v for (d, n), v in S08.noise_floor(df).items()}


def _floor_relative_spread(df):
    return {k: v - 1 for k, v in S08.noise_floor(df).items()}


def _floor_over_mean(df):
    block = df[df["sharing"].isin(["sequence", "cycle", "cycle_rev"])]
    return {
        (d, int(n)): g["tokens_per_s"].max() / g["tokens_per_s"].mean()
        for (d, n), g in block.groupby(["dataset", "n_layers"])
    }


# ---- notebook 09, more mistakes (issue 17)


def _deeper_without_m(cfg, factor):
    return cfg.replace(n_layers=factor * cfg.n_layers, sharing="cycle", n_blocks=None)


def _deeper_model(cfg, factor):
    from course_lib.nn.model import build_model

    return build_model(S09.same_params_deeper(cfg, factor))


def _deeper_unshared(cfg, factor):
    return cfg.replace(n_layers=factor * cfg.n_layers)


def _deeper_factor_ignored(cfg, factor):
    return cfg.replace(sharing="cycle", n_blocks=cfg.n_layers)


def _deeper_from_defaults(cfg, factor):
    from course_lib.config import ModelConfig

    return ModelConfig(n_layers=factor * cfg.n_layers, sharing="cycle", n_blocks=cfg.n_layers)


def _act_zero_based(p, eps):
    n, w = S09.act_halting(p, eps)
    return n - 1, w


def _act_strict(p, eps):
    weights, total = torch.zeros_like(p), 0.0
    for n in range(len(p)):
        if total + float(p[n]) > 1 - eps or n == len(p) - 1:
            weights[n] = 1 - total
            return n + 1, weights
        weights[n] = p[n]
        total += float(p[n])


def _act_not_zeroed(p, eps):
    n, w = S09.act_halting(p, eps)
    w = w.clone()
    w[n:] = p[n:]
    return n, w


def _act_list_weights(p, eps):
    n, w = S09.act_halting(p, eps)
    return n, w.tolist()


def _accuracy_tensor(pred, targets):
    slots = targets != IGNORE
    return ((pred == targets) | ~slots).all(1).float().mean()


def _accuracy_count(pred, targets):
    slots = targets != IGNORE
    return int(((pred == targets) | ~slots).all(1).sum())


def _accuracy_per_row(pred, targets):
    slots = targets != IGNORE
    return ((pred == targets) | ~slots).all(1)


def _accuracy_any_slot(pred, targets):
    slots = targets != IGNORE
    return ((pred == targets) & slots).any(1).float().mean().item()


WRONG = [
    (nb08.check_08_training_state_bytes, _per_use_state, "you counted every use"),
    (nb08.check_08_training_state_bytes, _no_step, "step count per tensor"),
    (nb08.check_08_training_state_bytes, _no_grads, "all four fp32 copies"),
    (nb08.check_08_depends_on, _all_on_m, "activations depends on N"),
    (nb08.check_08_depends_on, _flops_on_m, "flops_per_token depends on N"),
    (nb08.check_08_layer_flops_per_token, _no_factor_two, "multiply-add as 2 FLOPs"),
    (nb08.check_08_layer_flops_per_token, _no_scores, "add the attention scores"),
    (nb08.check_08_layer_flops_per_token, _qk_only, "weights @ V costs as much"),
    (nb08.check_08_paired_ratio, _ratio_of_medians, "ratio of the medians"),
    (nb08.check_08_paired_ratio, _inverted, "upside down"),
    (nb08.check_08_paired_ratio, _mean_ratio, "not the mean"),
    (nb08.check_08_noise_floor, _every_plan, "use only sequence, cycle and cycle_rev"),
    (nb08.check_08_noise_floor, _min_over_max, "max over min"),
    (nb08.check_08_training_state_bytes, _state_in_mb, "not megabytes"),
    (nb08.check_08_training_state_bytes, _state_weights_only, "that is the weights alone"),
    (nb08.check_08_training_state_bytes, _state_int64_steps, "not 8"),
    (nb08.check_08_training_state_bytes, _state_one_step_counter, "PER TENSOR"),
    (nb08.check_08_depends_on, _depends_lower_case, "capital letter"),
    (nb08.check_08_depends_on, _gradients_per_use, "one gradient, the sum over its uses"),
    (nb08.check_08_depends_on, _allreduce_per_layer, "all-reduces each parameter's gradient once"),
    (nb08.check_08_depends_on, _adamw_per_layer, "not per use"),
    (nb08.check_08_layer_flops_per_token, _flops_per_sequence, "divide by T"),
    (nb08.check_08_layer_flops_per_token, _flops_t_squared, "T\\^2 is the count for the whole"),
    (nb08.check_08_layer_flops_per_token, _flops_one_ffn_matrix, "FFN has two matrices"),
    (nb08.check_08_layer_flops_per_token, _flops_three_projections, "four projections"),
    (nb08.check_08_paired_ratio, _ratios_not_median, "return their median"),
    (nb08.check_08_paired_ratio, _ratio_after_sorting, "sorting the lists"),
    (nb08.check_08_paired_ratio, _ratio_of_means, "ratio of the means"),
    (nb08.check_08_noise_floor, _floor_as_series, r"to_dict\(\)"),
    (nb08.check_08_noise_floor, _floor_string_keys, "key by the pair"),
    (nb08.check_08_noise_floor, _floor_relative_spread, "not \\(max - min\\) / min"),
    (nb08.check_08_noise_floor, _floor_over_mean, "not by the mean"),
    (nb09.check_09_same_params_deeper, _share_all, "'all' keeps ONE block"),
    (nb09.check_09_same_params_deeper, _wrong_m, "n_blocks=M must equal"),
    (nb09.check_09_act_halting, _halt_at_one, "1 - eps"),
    (nb09.check_09_act_halting, _last_weight_p, "remainder R"),
    (nb09.check_09_act_halting, _never_forced, "halt at the last step"),
    (nb09.check_09_sequence_accuracy, _all_positions, "only the output slots"),
    (nb09.check_09_sequence_accuracy, _digit_accuracy, "that is the digit accuracy"),
    (nb09.check_09_same_params_deeper, _deeper_without_m, "needs its M"),
    (nb09.check_09_same_params_deeper, _deeper_model, "not a built model"),
    (nb09.check_09_same_params_deeper, _deeper_unshared, "sharing='none' at"),
    (nb09.check_09_same_params_deeper, _deeper_factor_ignored, "factor x N"),
    (nb09.check_09_same_params_deeper, _deeper_from_defaults, "change only n_layers"),
    (nb09.check_09_act_halting, _act_zero_based, "1-based"),
    (nb09.check_09_act_halting, _act_strict, ">=, not >"),
    (nb09.check_09_act_halting, _act_not_zeroed, "get weight 0"),
    (nb09.check_09_act_halting, _act_list_weights, "not a list"),
    (nb09.check_09_sequence_accuracy, _accuracy_tensor, "not a tensor"),
    (nb09.check_09_sequence_accuracy, _accuracy_count, "not the count"),
    (nb09.check_09_sequence_accuracy, _accuracy_any_slot, "not if any is"),
    (nb09.check_09_sequence_accuracy, _accuracy_per_row, "one verdict per row"),
]


def test_act_solution_matches_the_looped_model():
    """Feed the halting probabilities the model computed, step by step, to the solution."""
    cfg = LoopedConfig(d_model=32, n_heads=4, d_ff=64, max_steps=5, halt_bias_init=-0.5)
    torch.manual_seed(0)
    model = LoopedTransformer(cfg).eval()
    probs = []
    hook = model.halt.register_forward_hook(lambda m, i, o: probs.append(torch.sigmoid(o)))
    ids, _ = algorithmic_batch("copy", 4, 3)
    with torch.no_grad():
        out = model(ids)
    hook.remove()
    p = torch.cat(probs, -1)  # (B, T, steps run)
    p = torch.cat([p, torch.zeros(*p.shape[:2], cfg.max_steps - p.size(-1))], -1)
    for b in range(ids.size(0)):
        for t in range(ids.size(1)):
            n, w = S09.act_halting(p[b, t], cfg.halt_eps)
            assert n == int(out.n_updates[b, t])
            torch.testing.assert_close(w, out.halt_weights[b, t], atol=1e-5, rtol=0)
