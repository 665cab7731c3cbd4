"""Notebooks 06 and 07: plausible wrong answers (``WRONG``) and the hint each must get;
tests/exercises/test_checks.py runs them, with the reference solutions of every notebook."""

import math
from collections import Counter

import pandas as pd
import torch
from torch import nn

from course_lib.exercises import nb06, nb07
from course_lib.exercises.framework import load_solution

S06 = load_solution("06_training_with_sharing")
S07 = load_solution("07_embeddings_factorized_tied")


# ---------------------------------------------------------------- plausible wrong answers


def _test_majority(train, test):
    return (test == torch.bincount(test).argmax()).float().mean().item()


def _percent_baseline(train, test):
    return 100 * S06.majority_baseline(train, test)


def _cost_reversed(results):
    return -S06.sharing_cost(results)


def _cost_fraction(results):
    return S06.sharing_cost(results) / 100


def _cost_first_row(results):
    first = results["accuracy"].iloc[0]  # assumes "none" comes first
    return pd.Series(100 * (results["accuracy"] - first).to_numpy(), index=results["name"])


def _variance_not_se(results, n_test):
    best = results["accuracy"].max()
    return list(results.loc[results["accuracy"] >= best - best * (1 - best) / n_test, "name"])


def _no_n(results, n_test):
    best = results["accuracy"].max()
    return list(results.loc[results["accuracy"] >= best - math.sqrt(best * (1 - best)), "name"])


def _per_use_norm(model):
    return math.sqrt(
        sum(
            p.grad.pow(2).sum().item()
            for _, p in model.named_parameters(remove_duplicate=False)
            if p.grad is not None
        )
    )


def _squared_norm(model):
    return S06.global_grad_norm(model) ** 2


def _reinit_everything(model, std):
    for m in model.modules():
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=std)


def _fixed_std(model, std):
    S06.reinit_embeddings(model, 0.02)


def _tokens_only(model, std):
    nn.init.normal_(model.embed.tok_emb.weight, std=std)


def _pearson(x, y):
    return float(x.corr(y))


def _plans_without_m(n_blocks):
    return {s: {"sharing": s} for s in ("none", "all", "attention", "ffn")}


def _m_everywhere(n_blocks):
    return {k: {**v, "n_blocks": n_blocks} for k, v in S06.plans_for(n_blocks).items()}


def _positions_forgotten(v, h, t):
    return v * h


def _break_even_without_bias(e, h):
    return e * h // (h - e) + 1


def _break_even_too_large(e, h):
    return S07.break_even_vocab(e, h) + 1


def _tie_by_copy(model):
    with torch.no_grad():
        model.lm_head.weight.copy_(model.embed.tok_emb.weight)


def _entropy_bits(text):
    return S07.unigram_entropy(text) / math.log(2)


def _entropy_no_minus(text):
    return -S07.unigram_entropy(text)


def _entropy_uniform(text):
    return math.log(len(Counter(text)))


def _greedy_uncropped(model, ids, n_new):
    ids = list(ids)
    with torch.no_grad():
        for _ in range(n_new):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    return ids


def _greedy_first_position(model, ids, n_new):
    ids = list(ids)
    with torch.no_grad():
        for _ in range(n_new):
            ids.append(int(model(torch.tensor([ids[-model.cfg.max_len :]]))[0, 0].argmax()))
    return ids


def _greedy_new_only(model, ids, n_new):
    return S07.greedy(model, ids, n_new)[len(ids) :]


def _two_standard_errors(results, n_test):
    best = results["accuracy"].max()
    se = math.sqrt(best * (1 - best) / n_test)
    return list(results.loc[results["accuracy"] >= best - 2 * se, "name"])


def _ranks_of_y_only(x, y):
    return float(x.corr(y.rank()))


def _ranks_without_ties(x, y):
    return float(x.rank(method="first").corr(y.rank(method="first")))


def _positions_as_scalars(vocab_size, d_model, max_len):
    return vocab_size * d_model + max_len


def _tokens_twice(vocab_size, d_model, max_len):
    return 2 * vocab_size * d_model


def _head_module_replaced(model):
    model.lm_head = model.embed.tok_emb


# ---- notebook 06, more mistakes (issue 17)


def _majority_label(train, test):
    return int(torch.bincount(train).argmax())


def _majority_on_train(train, test):
    majority = torch.bincount(train).argmax()
    return (train == majority).float().mean().item()


def _minority(train, test):
    return (test == torch.bincount(train).argmin()).float().mean().item()


def _majority_tensor(train, test):
    return (test == torch.bincount(train).argmax()).float().mean()


def _cost_by_name(results):
    none = results.loc[results["name"] == "none", "accuracy"].iloc[0]
    return pd.Series(100 * (results["accuracy"] - none).to_numpy(), index=results["name"])


def _cost_as_frame(results):
    return S06.sharing_cost(results).to_frame("cost")


def _cost_default_index(results):
    return S06.sharing_cost(results).reset_index(drop=True)


def _cost_relative(results):
    none = results.loc[results["sharing"] == "none", "accuracy"].iloc[0]
    return pd.Series(100 * (results["accuracy"] / none - 1).to_numpy(), index=results["name"])


def _noise_outside(results, n_test):
    keep = set(S06.within_noise(results, n_test))
    return [n for n in results["name"] if n not in keep]


def _noise_best_only(results, n_test):
    return [results.loc[results["accuracy"].idxmax(), "name"]]


def _noise_as_series(results, n_test):
    keep = S06.within_noise(results, n_test)
    return results.loc[results["name"].isin(keep), "name"]


def _noise_from_mean(results, n_test):
    mean = results["accuracy"].mean()
    se = math.sqrt(mean * (1 - mean) / n_test)
    return list(results.loc[results["accuracy"] >= mean - se, "name"])


def _noise_in_percent(results, n_test):
    best = 100 * results["accuracy"].max()
    return [math.sqrt(best * (1 - best) / n_test)]


def _norm_as_tensor(model):
    return torch.tensor(S06.global_grad_norm(model))


def _norm_sum_of_norms(model):
    return sum(p.grad.norm().item() for p in model.parameters() if p.grad is not None)


def _norm_of_weights(model):
    return math.sqrt(sum(p.detach().pow(2).sum().item() for p in model.parameters()))


def _norm_without_none_check(model):
    return math.sqrt(sum(p.grad.pow(2).sum().item() for p in model.parameters()))


def _norm_max_entry(model):
    return max(p.grad.abs().max().item() for p in model.parameters() if p.grad is not None)


def _reinit_new_embedding(model, std):
    emb = model.embed
    emb.tok_emb = nn.Embedding(*emb.tok_emb.weight.shape)
    emb.pos_emb = nn.Embedding(*emb.pos_emb.weight.shape)
    S06.reinit_embeddings(model, std)


def _reinit_positional_std(model, std):
    nn.init.normal_(model.embed.tok_emb.weight, std)
    nn.init.normal_(model.embed.pos_emb.weight, std)


def _reinit_uniform(model, std):
    nn.init.uniform_(model.embed.tok_emb.weight, -std, std)
    nn.init.uniform_(model.embed.pos_emb.weight, -std, std)


def _reinit_variance(model, std):
    S06.reinit_embeddings(model, std**2)


# ---- notebook 07, more mistakes (issue 17)


def _embedding_float(v, h, t):
    return float(v * h + t * h)


def _embedding_with_bias(v, h, t):
    return v * h + t * h + h


def _embedding_multiplied(v, h, t):
    return v * h * t


def _break_even_float(e, h):
    return (e * h + h) / (h - e)


def _break_even_equal_point(e, h):
    return -(-(e * h + h) // (h - e))  # ceil: where both are equal when it divides


def _break_even_sides_swapped(e, h):
    return (e * h + h) // (e - h) + 1


def _break_even_one_short(e, h):
    return e * h // (h - e)  # no bias, and the point itself, not the next V


def _tie_by_data(model):
    model.lm_head.weight.data = model.embed.tok_emb.weight.data


def _tie_new_parameter(model):
    model.lm_head.weight = nn.Parameter(model.embed.tok_emb.weight)


def _tie_a_copy_returned(model):
    import copy

    other = copy.deepcopy(model)
    other.lm_head.weight = other.embed.tok_emb.weight
    return other


def _tie_transposed(model):
    model.lm_head.weight = nn.Parameter(model.embed.tok_emb.weight.T)
    model(torch.zeros(1, 2, dtype=torch.long))


def _tie_the_module(model):
    model.lm_head.weight = model.embed.tok_emb


def _entropy_tensor(text):
    return torch.tensor(S07.unigram_entropy(text))


def _entropy_log10(text):
    return S07.unigram_entropy(text) / math.log(10)


def _entropy_every_position(text):
    counts = Counter(text)
    return -sum(math.log(counts[c] / len(text)) for c in text)


def _entropy_unweighted(text):
    return -sum(math.log(k / len(text)) for k in Counter(text).values())


def _entropy_log_of_counts(text):
    return -sum(k / len(text) * math.log(k) for k in Counter(text).values())


WRONG = [
    (nb06.check_06_majority_baseline, _test_majority, "TRAINING labels"),
    (nb06.check_06_majority_baseline, _percent_baseline, "not a percentage"),
    (nb06.check_06_sharing_cost, _cost_reversed, "the sign"),
    (nb06.check_06_sharing_cost, _cost_fraction, "multiply the difference by 100"),
    (nb06.check_06_sharing_cost, _cost_first_row, "find the row whose sharing is 'none'"),
    (nb06.check_06_within_noise, _variance_not_se, "SQUARE ROOT"),
    (nb06.check_06_within_noise, _no_n, "divide by n_test"),
    (nb06.check_06_within_noise, _two_standard_errors, "one standard error, not two"),
    (nb06.check_06_global_grad_norm, _per_use_norm, "count the shared tensor once"),
    (nb06.check_06_global_grad_norm, _squared_norm, "square root"),
    (nb06.check_06_reinit_embeddings, _reinit_everything, "change only the two embedding"),
    (nb06.check_06_reinit_embeddings, _fixed_std, "use the std argument"),
    (nb06.check_06_reinit_embeddings, _tokens_only, "pos_emb.weight did not change"),
    (nb06.check_06_majority_baseline, _majority_label, "that is the majority label"),
    (nb06.check_06_majority_baseline, _majority_on_train, "measure on the TEST labels"),
    (nb06.check_06_majority_baseline, _minority, "not argmin"),
    (nb06.check_06_majority_baseline, _majority_tensor, r"Python float \(.item\(\)\)"),
    (nb06.check_06_sharing_cost, _cost_by_name, "its name need not be 'none'"),
    (nb06.check_06_sharing_cost, _cost_as_frame, "not a DataFrame"),
    (nb06.check_06_sharing_cost, _cost_default_index, "pd.Series"),
    (nb06.check_06_sharing_cost, _cost_relative, "not a relative change"),
    (nb06.check_06_within_noise, _noise_outside, "not the ones outside"),
    (nb06.check_06_within_noise, _noise_best_only, "not only the best"),
    (nb06.check_06_within_noise, _noise_as_series, "not a Series"),
    (nb06.check_06_within_noise, _noise_from_mean, "measure from the BEST"),
    (nb06.check_06_within_noise, _noise_in_percent, "fractions in"),
    (nb06.check_06_global_grad_norm, _norm_as_tensor, "not a tensor"),
    (nb06.check_06_global_grad_norm, _norm_sum_of_norms, "not the sum of each tensor's norm"),
    (nb06.check_06_global_grad_norm, _norm_of_weights, "not of the weights"),
    (nb06.check_06_global_grad_norm, _norm_without_none_check, "grad is None"),
    (nb06.check_06_global_grad_norm, _norm_max_entry, "not the largest entry"),
    (nb06.check_06_reinit_embeddings, _reinit_new_embedding, "is a new tensor"),
    (nb06.check_06_reinit_embeddings, _reinit_positional_std, "passes std as the MEAN"),
    (nb06.check_06_reinit_embeddings, _reinit_uniform, "that is nn.init.uniform_"),
    (nb06.check_06_reinit_embeddings, _reinit_variance, "not the variance"),
    (nb06.check_06_rank_correlation, _pearson, "Pearson's correlation of the values"),
    (nb06.check_06_rank_correlation, _ranks_of_y_only, "rank BOTH series"),
    (nb06.check_06_rank_correlation, _ranks_without_ties, "ties get average ranks"),
    (nb06.check_06_plans_for, _plans_without_m, "one plan per strategy"),
    (nb06.check_06_plans_for, _m_everywhere, "has no M"),
    (nb07.check_07_embedding_params, _positions_forgotten, "add the learned positions"),
    (nb07.check_07_embedding_params, _positions_as_scalars, "not one number"),
    (nb07.check_07_embedding_params, _tokens_twice, "max_len rows, not V"),
    (nb07.check_07_break_even_vocab, _break_even_without_bias, "the projection's bias"),
    (nb07.check_07_break_even_vocab, _break_even_too_large, "find the smallest V"),
    (nb07.check_07_tie, _tie_by_copy, "a copy, not a tie"),
    (nb07.check_07_tie, _head_module_replaced, "not the module"),
    (nb07.check_07_unigram_entropy, _entropy_bits, "in bits"),
    (nb07.check_07_unigram_entropy, _entropy_no_minus, "minus sign"),
    (nb07.check_07_unigram_entropy, _entropy_uniform, "weight by the frequencies"),
    (nb07.check_07_embedding_params, _embedding_float, "not a float"),
    (nb07.check_07_embedding_params, _embedding_with_bias, "no bias"),
    (nb07.check_07_embedding_params, _embedding_multiplied, "do not multiply"),
    (nb07.check_07_break_even_vocab, _break_even_float, "not the float"),
    (nb07.check_07_break_even_vocab, _break_even_equal_point, "'fewer' is strict"),
    (nb07.check_07_break_even_vocab, _break_even_sides_swapped, "divide by H - E"),
    (nb07.check_07_break_even_vocab, _break_even_one_short, "does not save yet"),
    (nb07.check_07_tie, _tie_by_data, "shares the storage but leaves two Parameter objects"),
    (nb07.check_07_tie, _tie_new_parameter, "shares the storage but leaves two Parameter"),
    (nb07.check_07_tie, _tie_a_copy_returned, "tie in place"),
    (nb07.check_07_tie, _tie_transposed, "untransposed"),
    (nb07.check_07_tie, _tie_the_module, "not the Embedding module"),
    (nb07.check_07_unigram_entropy, _entropy_tensor, "not a tensor"),
    (nb07.check_07_unigram_entropy, _entropy_log10, "that is log10"),
    (nb07.check_07_unigram_entropy, _entropy_every_position, "DISTINCT characters"),
    (nb07.check_07_unigram_entropy, _entropy_unweighted, "weight each -ln p"),
    (nb07.check_07_unigram_entropy, _entropy_log_of_counts, "not of the count"),
    (nb07.check_07_greedy, _greedy_uncropped, "feed only the last max_len tokens"),
    (nb07.check_07_greedy, _greedy_first_position, "LAST position"),
    (nb07.check_07_greedy, _greedy_new_only, "the prompt and the 6 new tokens"),
]


def test_checks_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    nb06.check_06_reinit_embeddings(S06.reinit_embeddings)
    nb07.check_07_greedy(S07.greedy)
    assert torch.equal(torch.rand(3), expected)


def test_break_even_solution_matches_the_formula_of_the_notebook():
    # ALBERT base sizes: factorizing E=128 < H=768 pays off from a 155-token vocabulary on
    assert S07.break_even_vocab(128, 768) == 155
    assert S07.break_even_vocab(16, 32) == 35
