"""Reference solutions for the exercises of notebook 11 (choosing a strategy).

Try the exercises first; ``course_lib.exercises.nb11`` tells you what is wrong with your
answer. Load these with ``course_lib.exercises.framework.load_solution("11_choosing_a_strategy")``.
"""

from course_lib.exercises.nb11 import all_plans
from course_lib.nn.counts import formula_parameter_count


def plans_within(cfg, budget: int) -> dict[str, int]:
    """Exercise 1: every plan at cfg's depth whose unique parameters fit ``budget``."""
    out = {}
    for name, changes in all_plans(cfg.n_layers).items():
        n = formula_parameter_count(cfg.replace(**changes))  # the whole model, stored once
        if n <= budget:
            out[name] = n
    return out


def claim_verdicts() -> dict[str, bool]:
    """Exercise 2: each claim, as measured in notebooks 04-10."""
    return {
        "cuts the stored parameters": True,
        "cuts weight, gradient and optimizer memory": True,
        "cuts activation memory at the same depth": False,
        "cuts FLOPs at the same depth": False,
        "speeds up inference at the same depth, whatever the batch and width": False,
        "the Hadamard formula [W2;b2]=[W1;b1]⊙[W3;b3] is sharing": False,
        "the blog's two-Linear PyTorch example shares weights": False,
        "always costs accuracy": False,
        "applies to vision transformers": True,
    }


def choose_plan(runs, max_params: int, max_latency_ms: float, ms_per_layer: float):
    """Exercise 3: the lowest validation loss within a parameter and a latency budget."""
    latency_ms = runs["n_layers"] * ms_per_layer  # latency follows the depth N, not M
    fits = runs[(runs["unique_params"] <= max_params) & (latency_ms <= max_latency_ms)]
    if fits.empty:
        return None
    return fits.sort_values(["val_loss", "unique_params"]).iloc[0]["name"]
