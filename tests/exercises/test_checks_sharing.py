"""Notebooks 04 and 05: plausible wrong answers (``WRONG``) and the hint each must get;
tests/exercises/test_checks.py runs them, with the reference solutions of every notebook."""

import copy

import torch
from torch import nn

from course_lib.exercises import nb04, nb05
from course_lib.exercises.framework import load_solution
from course_lib.nn.plan_summary import explore

S04 = load_solution("04_what_sharing_means")
S05 = load_solution("05_sharing_strategies")


def _per_use_count(model):
    return sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))


def _one_use_grad(layer, x):
    first, second = copy.deepcopy(layer), copy.deepcopy(layer)
    second(torch.relu(first(x))).sum().backward()
    return first.weight.grad


def _mean_grad(layer, x):
    return S04.grad_via_copies(layer, x) / 2


def _equal_values(m1, m2):
    return sum(
        a.numel()
        for a, b in zip(m1.parameters(), m2.parameters(), strict=False)
        if a.shape == b.shape and torch.equal(a, b)
    )


def _matmul_weights(l1, l3):
    return l1.weight @ l3.weight.T, l1.bias * l3.bias


def _detached(l1, l3):
    w, b = S04.hadamard_weights(l1, l3)
    return w.detach(), b.detach()


def _swapped_counts(d, d_ff, n, m):
    return S04.cycle_block_counts(d, d_ff, n, m)[::-1]


def _n_blocks_stored(d, d_ff, n, m):
    return S04.cycle_block_counts(d, d_ff, n, n)


def _over_budget(budget, n=12):
    return min(S04.max_blocks_within(budget, n) + 1, n)


def _albert_swapped(strategy, d, d_ff, n):
    other = {"attention": "ffn", "ffn": "attention"}.get(strategy, strategy)
    return S05.albert_stack_params(other, d, d_ff, n)


def _cycle_for_all(strategy, n, m):
    return S05.block_map("cycle", n, m)


def _reverse_everything(strategy, n, m):
    if strategy == "cycle_rev":
        return [m - 1 - i % m for i in range(n)]
    return S05.block_map(strategy, n, m)


def _cycle_repeat(m, r):
    return [i % m for i in range(m * r)]


def _ut_without_steps(block, x, steps):
    for _ in range(steps.size(0)):
        x = block(x)
    return x


def _ut_once(block, x, steps):
    return block(x + steps[0])


def _sandwich_open_top(n):
    return [0] + [1] * (n - 1)


def _lora_without_delta(x, w, b, a, bb):
    return x @ w.T + b


def _lora_without_bias(x, w, b, a, bb):
    return x @ (w + bb @ a).T


def _kept_share(table):
    return table.assign(saving=table["unique"] / table["per_use"])


def _tensor_count(model):
    return len(list(model.parameters()))


def _weights_only(model):
    return sum(p.numel() for p in model.parameters() if p.dim() > 1)


def _same_shapes(m1, m2):
    return sum(p.numel() for p in m1.parameters() for q in m2.parameters() if p.shape == q.shape)


def _ignores_n_layers(budget, n=12):
    return S04.max_blocks_within(budget, 12)


def _always_one_block(budget, n=12):
    return 1


def _albert_no_layernorms(strategy, d, d_ff, n):
    attn, ffn = 4 * d * d + 4 * d, 2 * d * d_ff + d_ff + d
    n_attn = 1 if strategy in ("all", "attention") else n
    n_ffn = 1 if strategy in ("all", "ffn") else n
    return n_attn * attn + n_ffn * ffn


def _no_sharing_repeat(m, r):
    return list(range(m * r))


def _sandwich_ends_shared(n):
    return [0] + [1] * (n - 2) + [0]


def _saving_percent(table):
    return table.assign(saving=100 * (1 - table["unique"] / table["per_use"]))


# ---- notebook 04, more mistakes (issue 17)


def _numpy_count(model):
    import numpy as np

    return np.sum([p.numel() for p in model.parameters()])


def _dedupe_by_value(model):
    kept = []
    for _, p in model.named_parameters(remove_duplicate=False):
        if not any(q.shape == p.shape and torch.equal(q, p) for q in kept):
            kept.append(p)
    return sum(p.numel() for p in kept)


def _grad_on_the_layer_itself(layer, x):
    layer(torch.relu(layer(x))).sum().backward()
    return layer.weight.grad


def _grad_without_relu(layer, x):
    first, second = copy.deepcopy(layer), copy.deepcopy(layer)
    second(first(x)).sum().backward()
    return first.weight.grad + second.weight.grad


def _grad_of_mean(layer, x):
    first, second = copy.deepcopy(layer), copy.deepcopy(layer)
    second(torch.relu(first(x))).mean().backward()
    return first.weight.grad + second.weight.grad


def _grad_of_bias(layer, x):
    first, second = copy.deepcopy(layer), copy.deepcopy(layer)
    second(torch.relu(first(x))).sum().backward()
    return first.bias.grad + second.bias.grad


def _shared_tensor_count(m1, m2):
    ptrs = {p.data_ptr() for p in m1.parameters()}
    return sum(1 for p in m2.parameters() if p.data_ptr() in ptrs)


def _shared_counted_twice(m1, m2):
    return 2 * S04.shared_elements(m1, m2)


def _shared_whole_module_if_any(m1, m2):
    shared = S04.shared_elements(m1, m2) > 0
    return sum(p.numel() for p in m1.parameters()) if shared else 0


def _shared_as_bool(m1, m2):
    return S04.shared_elements(m1, m2) > 0


def _hadamard_matmul(l1, l3):
    return l1.weight @ l3.weight, l1.bias * l3.bias


def _hadamard_sum(l1, l3):
    return l1.weight + l3.weight, l1.bias + l3.bias


def _hadamard_bias_copied(l1, l3):
    return l1.weight * l3.weight, l1.bias


def _hadamard_as_layer(l1, l3):
    layer = nn.Linear(4, 3)
    layer.weight, layer.bias = nn.Parameter(l1.weight * l3.weight), nn.Parameter(l1.bias * l3.bias)
    return layer


def _counts_per_use_of_m(d, d_ff, n, m):
    unique = S04.cycle_block_counts(d, d_ff, n, m)[0]
    return unique, unique


def _counts_without_layernorms(d, d_ff, n, m):
    block = 4 * d * d + 2 * d * d_ff + 5 * d + d_ff
    return m * block, n * block


def _counts_as_list(d, d_ff, n, m):
    return list(S04.cycle_block_counts(d, d_ff, n, m))


def _counts_matrices_only(d, d_ff, n, m):
    block = 4 * d * d + 2 * d * d_ff
    return m * block, n * block


def _blocks_strictly_below(budget, n=12):
    best = 0
    for m in range(1, n + 1):
        if explore("cycle", n_layers=n, n_blocks=m).param_mb < budget:
            best = m
    return best


def _count_from_state_dict(model):
    return sum(t.numel() for t in model.state_dict().values())


def _blocks_size_not_m(budget, n=12):
    m = S04.max_blocks_within(budget, n)
    return explore("cycle", n_layers=n, n_blocks=max(m, 1)).param_mb


def _sandwich_one_too_many(n):
    return [0] + [1] * (n - 1) + [2]


def _ut_steps_backwards(block, x, steps):
    for t in reversed(range(steps.size(0))):
        x = block(x + steps[t])
    return x


def _blocks_none_when_nothing_fits(budget, n=12):
    return S04.max_blocks_within(budget, n) or None


# ---- notebook 05, more mistakes (issue 17)


def _albert_float(strategy, d, d_ff, n):
    return float(S05.albert_stack_params(strategy, d, d_ff, n))


def _albert_shared_half_only(strategy, d, d_ff, n):
    attn, ffn = 4 * d * d + 6 * d, 2 * d * d_ff + d_ff + 3 * d
    return {"none": n * (attn + ffn), "all": attn + ffn, "attention": attn, "ffn": ffn}[strategy]


def _albert_one_block_for_none(strategy, d, d_ff, n):
    if strategy == "none":
        return S05.albert_stack_params("all", d, d_ff, n)
    return S05.albert_stack_params(strategy, d, d_ff, n)


def _albert_other_half_once(strategy, d, d_ff, n):
    if strategy in ("attention", "ffn"):
        return S05.albert_stack_params("all", d, d_ff, n)
    return S05.albert_stack_params(strategy, d, d_ff, n)


def _map_one_based(strategy, n, m):
    return [b + 1 for b in S05.block_map(strategy, n, m)]


def _map_sequence_by_m(strategy, n, m):
    if strategy == "sequence":
        return [i // m for i in range(n)]
    return S05.block_map(strategy, n, m)


def _map_cycle_as_sequence(strategy, n, m):
    if strategy == "cycle":
        return S05.block_map("sequence", n, m)
    return S05.block_map(strategy, n, m)


def _map_rev_last_m_layers(strategy, n, m):
    if strategy == "cycle_rev":
        return [i % m for i in range(n - m)] + list(range(m - 1, -1, -1))
    return S05.block_map(strategy, n, m)


def _map_rev_partial_ends_on_zero(strategy, n, m):
    if strategy == "cycle_rev":
        last = n - (n // m) * m or m
        return [i % m for i in range(n - last)] + list(range(last - 1, -1, -1))
    return S05.block_map(strategy, n, m)


def _map_rev_as_cycle(strategy, n, m):
    if strategy == "cycle_rev":
        return S05.block_map("cycle", n, m)
    return S05.block_map(strategy, n, m)


def _map_generator(strategy, n, m):
    return (b for b in S05.block_map(strategy, n, m))


def _repeat_nested(m, r):
    return [[b] * r for b in range(m)]


def _repeat_forgot_repeats(m, r):
    return list(range(m))


def _repeat_one_based(m, r):
    return [b + 1 for b in S05.repeat_plan(m, r)]


def _repeat_roles_swapped(m, r):
    return [i // m for i in range(m * r)]


def _ut_first_step_only(block, x, steps):
    x = x + steps[0]
    for _ in range(steps.size(0)):
        x = block(x)
    return x


def _ut_step_after_block(block, x, steps):
    for t in range(steps.size(0)):
        x = block(x) + steps[t]
    return x


def _ut_extra_residual(block, x, steps):
    for t in range(steps.size(0)):
        x = x + block(x + steps[t])
    return x


def _sandwich_one_based(n):
    return [b + 1 for b in S05.sandwich_ids(n)]


def _sandwich_no_sharing(n):
    return list(range(n))


def _sandwich_first_shared(n):
    return [0] * (n - 1) + [1]


def _lora_transposed_delta(x, w, b, a, bb):
    return x @ (w + a.T @ bb.T).T + b


def _lora_a_times_b(x, w, b, a, bb):
    return x @ (w + a @ bb).T + b


def _lora_delta_only(x, w, b, a, bb):
    return x @ (bb @ a).T + b


def _lora_minus_delta(x, w, b, a, bb):
    return x @ (w - bb @ a).T + b


def _lora_bias_twice(x, w, b, a, bb):
    return x @ (w + bb @ a).T + 2 * b


def _saving_in_place(table):
    table["saving"] = 1 - table["unique"] / table["per_use"]


def _saving_column_only(table):
    return 1 - table["unique"] / table["per_use"]


def _saving_upside_down(table):
    return table.assign(saving=1 - table["per_use"] / table["unique"])


def _saving_count(table):
    return table.assign(saving=table["per_use"] - table["unique"])


WRONG = [
    (nb04.check_04_count_unique, _per_use_count, "counted every alias"),
    (nb04.check_04_count_unique, _tensor_count, "not the tensors"),
    (nb04.check_04_count_unique, _weights_only, "count the biases too"),
    (nb04.check_04_grad_via_copies, _one_use_grad, "SUM of both"),
    (nb04.check_04_grad_via_copies, _mean_grad, "do not average"),
    (nb04.check_04_shared_elements, _equal_values, "equal values are not sharing"),
    (nb04.check_04_shared_elements, _same_shapes, "compare memory (data_ptr)"),
    (nb04.check_04_hadamard_weights, _matmul_weights, "W2 has W1's shape"),
    (nb04.check_04_hadamard_weights, _detached, "keep W2 and b2 connected"),
    (nb04.check_04_cycle_block_counts, _swapped_counts, "swapped"),
    (nb04.check_04_cycle_block_counts, _n_blocks_stored, "stores only M blocks"),
    (nb04.check_04_max_blocks_within, _over_budget, "over the"),
    (nb04.check_04_max_blocks_within, _ignores_n_layers, "0 <= M <= 6"),
    (nb04.check_04_max_blocks_within, _always_one_block, "SMALLEST M"),
    (nb04.check_04_count_unique, _numpy_count, "return a Python int"),
    (nb04.check_04_count_unique, _dedupe_by_value, "equal values are not one tensor"),
    (nb04.check_04_grad_via_copies, _grad_on_the_layer_itself, "ran `layer` itself"),
    (nb04.check_04_grad_via_copies, _grad_without_relu, "you left out the relu"),
    (nb04.check_04_grad_via_copies, _grad_of_mean, r"not its .mean\(\)"),
    (nb04.check_04_grad_via_copies, _grad_of_bias, "not of the bias"),
    (nb04.check_04_shared_elements, _shared_tensor_count, "not the tensors"),
    (nb04.check_04_shared_elements, _shared_counted_twice, "not once in each module"),
    (nb04.check_04_shared_elements, _shared_whole_module_if_any, "not the whole module"),
    (nb04.check_04_shared_elements, _shared_as_bool, "not whether any are"),
    (nb04.check_04_hadamard_weights, _hadamard_matmul, r"\(3, 4\) @ \(3, 4\) does not fit"),
    (nb04.check_04_hadamard_weights, _hadamard_sum, "a product, not a sum"),
    (nb04.check_04_hadamard_weights, _hadamard_bias_copied, "not a copy of b1"),
    (nb04.check_04_hadamard_weights, _hadamard_as_layer, "not a layer"),
    (nb04.check_04_cycle_block_counts, _counts_per_use_of_m, "per-use counts every one"),
    (nb04.check_04_cycle_block_counts, _counts_without_layernorms, "include both LayerNorms"),
    (nb04.check_04_cycle_block_counts, _counts_as_list, "not a list"),
    (nb04.check_04_cycle_block_counts, _counts_matrices_only, "more than its matrices"),
    (nb04.check_04_max_blocks_within, _blocks_strictly_below, "use <=, not <"),
    (nb04.check_04_count_unique, _count_from_state_dict, "counted every alias"),
    (nb04.check_04_max_blocks_within, _blocks_size_not_m, "not the model's size in MB"),
    (nb05.check_05_sandwich_ids, _sandwich_one_too_many, "one id per layer: 6 ids, got 7"),
    (nb05.check_05_ut_forward, _ut_steps_backwards, "the steps run in order"),
    (nb04.check_04_max_blocks_within, _blocks_none_when_nothing_fits, r"return 0 \(not None\)"),
    (nb05.check_05_albert_stack_params, _albert_swapped, "shares the attention sublayer"),
    (nb05.check_05_albert_stack_params, _albert_no_layernorms, "you left out the LayerNorms"),
    (nb05.check_05_block_map, _cycle_for_all, "that is CYCLE"),
    (nb05.check_05_block_map, _reverse_everything, "only the LAST round"),
    (nb05.check_05_repeat_plan, _cycle_repeat, "repeat each block in a row"),
    (nb05.check_05_repeat_plan, _no_sharing_repeat, "that is no sharing"),
    (nb05.check_05_ut_forward, _ut_without_steps, "add step_emb[t]"),
    (nb05.check_05_ut_forward, _ut_once, "not once"),
    (nb05.check_05_sandwich_ids, _sandwich_open_top, "LAST layer keeps its own"),
    (nb05.check_05_sandwich_ids, _sandwich_ends_shared, "each keep their OWN weights"),
    (nb05.check_05_lora_linear, _lora_without_delta, "low-rank delta"),
    (nb05.check_05_lora_linear, _lora_without_bias, "keep the shared bias"),
    (nb05.check_05_add_saving, _kept_share, "1 minus it"),
    (nb05.check_05_add_saving, _saving_percent, "not a percentage"),
    (nb05.check_05_albert_stack_params, _albert_float, "not the float"),
    (nb05.check_05_albert_stack_params, _albert_shared_half_only, "keeps its own FFN sublayer"),
    (nb05.check_05_albert_stack_params, _albert_one_block_for_none, "'none' shares nothing"),
    (nb05.check_05_albert_stack_params, _albert_other_half_once, "N x its count"),
    (nb05.check_05_block_map, _map_one_based, "block ids start at 0"),
    (nb05.check_05_block_map, _map_sequence_by_m, r"block i\*M // N"),
    (nb05.check_05_block_map, _map_cycle_as_sequence, "that is SEQUENCE"),
    (nb05.check_05_block_map, _map_rev_last_m_layers, "counts down from M-1"),
    (nb05.check_05_block_map, _map_rev_partial_ends_on_zero, "the last round is partial"),
    (nb05.check_05_block_map, _map_rev_as_cycle, "CYCLE-REV runs its last round in reverse"),
    (nb05.check_05_block_map, _map_generator, r"wrap it in list"),
    (nb05.check_05_repeat_plan, _repeat_nested, "not a list of lists"),
    (nb05.check_05_repeat_plan, _repeat_forgot_repeats, "M x repeats = 12 ids"),
    (nb05.check_05_repeat_plan, _repeat_one_based, "block ids start at 0"),
    (nb05.check_05_repeat_plan, _repeat_roles_swapped, "swapped roles"),
    (nb05.check_05_ut_forward, _ut_first_step_only, "before EVERY step"),
    (nb05.check_05_ut_forward, _ut_step_after_block, "BEFORE the block"),
    (nb05.check_05_ut_forward, _ut_extra_residual, "no extra x"),
    (nb05.check_05_sandwich_ids, _sandwich_one_based, "start at 0"),
    (nb05.check_05_sandwich_ids, _sandwich_no_sharing, "share the middle"),
    (nb05.check_05_sandwich_ids, _sandwich_first_shared, "FIRST layer keeps its own"),
    (nb05.check_05_lora_linear, _lora_transposed_delta, r"A.T @ B.T is its transpose"),
    (nb05.check_05_lora_linear, _lora_a_times_b, "A @ B does not fit"),
    (nb05.check_05_lora_linear, _lora_delta_only, "keep the shared weight"),
    (nb05.check_05_lora_linear, _lora_minus_delta, "ADD the delta"),
    (nb05.check_05_lora_linear, _lora_bias_twice, "add the bias once"),
    (nb05.check_05_add_saving, _saving_in_place, "returned None"),
    (nb05.check_05_add_saving, _saving_column_only, "not the column alone"),
    (nb05.check_05_add_saving, _saving_upside_down, "upside down"),
    (nb05.check_05_add_saving, _saving_count, "not the count saved"),
]
