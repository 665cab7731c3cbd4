"""One training step for every training loop (issue 19): ``course_lib.training.step.train_step``.

The first test reads every module of course_lib (its syntax tree, so a message that names
``loss.backward()`` does not count): only training/step.py may call ``.backward(`` or an
optimizer's ``.step(``, except the few places listed in ``NOT_A_TRAINING_STEP``, each with
the reason it is not a training loop. The second runs each loop for two steps with
``train_step`` replaced, where the loop's module imported it, by a counting wrapper.
"""

import ast
import functools
from pathlib import Path

import pytest
import torch

from course_lib import ModelConfig, TrainConfig, build_model
from course_lib.experiments import ondemand
from course_lib.measure import cost
from course_lib.nn.looped import LoopedConfig, LoopedTransformer
from course_lib.nn.mor import MoRClassifier, MoRConfig
from course_lib.nn.recurrent_depth import RecurrentDepthConfig, RecurrentDepthModel
from course_lib.training import distributed, loops, step, train

PACKAGE = Path(__file__).resolve().parents[2] / "course_lib"
STEP_HOME = "training/step.py"
# (module, function) -> (the calls it may make, why it is not a training step)
NOT_A_TRAINING_STEP = {
    ("measure/cost.py", "counted_flops"): (
        {"backward"},
        "counts the FLOPs of one backward pass; no optimizer",
    ),
    ("measure/timing.py", "compare_phases"): (
        {"backward", "step"},
        "times forward, backward and optimizer step apart, so it cannot take them in one call",
    ),
    ("exercises/nb03.py", "check_03_train_step"): (
        {"backward", "step"},
        "the reference for the learner's own step (zero_grad, backward, step) it checks",
    ),
    ("exercises/nb04.py", "check_04_grad_via_copies"): (
        {"backward"},
        "gradients of a weight used twice, to compare with the learner's; no optimizer",
    ),
    ("exercises/nb06.py", "check_06_global_grad_norm"): (
        {"backward"},
        "gradients to take the norm of; no optimizer",
    ),
}


def step_calls(path: Path) -> set[tuple[str, str]]:
    """(enclosing top-level function or class, method) of each ``.backward(`` / ``.step(``
    call in ``path``; "<module>" outside any."""
    found = set()
    for top in ast.parse(path.read_text(encoding="utf-8")).body:
        where = getattr(top, "name", "<module>")
        for node in ast.walk(top):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("backward", "step")
            ):
                found.add((where, node.func.attr))
    return found


def test_only_the_training_step_calls_backward_or_an_optimizer_step():
    wrong, seen = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module == STEP_HOME:
            continue
        for where, method in sorted(step_calls(path)):
            allowed, _why = NOT_A_TRAINING_STEP.get((module, where), (set(), ""))
            if method in allowed:
                seen.add((module, where))
            else:
                wrong.append(f"{module}: {where} calls .{method}(")
    assert not wrong, "take training steps with course_lib.training.step.train_step: " + "; ".join(
        wrong
    )
    stale = set(NOT_A_TRAINING_STEP) - seen
    assert not stale, f"no longer calls .backward( or .step(: drop {sorted(stale)} from the list"
    assert step_calls(PACKAGE / STEP_HOME) >= {("train_step", "backward")}


def test_the_check_sees_a_hand_written_step(tmp_path):
    (tmp_path / "loop.py").write_text(
        "def fit(model, opt, x):\n"
        "    msg = 'call loss.backward() then opt.step()'\n"  # text only: not a call
        "    model(x).sum().backward()\n"
        "    opt.step()\n"
    )
    assert step_calls(tmp_path / "loop.py") == {("fit", "backward"), ("fit", "step")}


@pytest.fixture
def counted(monkeypatch):
    """Replace ``train_step`` in ``module`` by a wrapper counting its calls; returns calls."""
    calls: list[str] = []

    def patch(module) -> None:
        assert module.train_step is step.train_step, f"{module.__name__} has its own train_step"

        @functools.wraps(step.train_step)
        def counting(*args, **kwargs):
            calls.append(module.__name__)
            return step.train_step(*args, **kwargs)

        monkeypatch.setattr(module, "train_step", counting)

    patch.calls = calls
    return patch


def toy_classify(n=16, t=8, vocab=50):
    g = torch.Generator().manual_seed(0)
    return torch.utils.data.TensorDataset(
        torch.randint(2, vocab, (n, t), generator=g), torch.randint(0, 2, (n,), generator=g)
    )


TINY = dict(vocab_size=50, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=8)


def run_train_model():
    torch.manual_seed(0)
    model = build_model(ModelConfig(**TINY, sharing="all"))
    cfg = TrainConfig(steps=2, batch_size=4, warmup_steps=0, device="cpu")
    return train.train_model(model, toy_classify(), cfg, progress=False)["loss"]


def run_train_looped():
    torch.manual_seed(0)
    model = LoopedTransformer(LoopedConfig(d_model=16, n_heads=2, d_ff=32, max_steps=3))
    return loops.train_looped(model, "copy", steps=2, batch_size=4, lengths=(1, 3))["loss"]


def run_train_recurrent():
    torch.manual_seed(0)
    model = RecurrentDepthModel(
        RecurrentDepthConfig(d_model=16, n_heads=2, d_ff=32, window=2, max_len=16)
    )
    return loops.train_recurrent(model, steps=2, batch_size=4, lengths=(4, 6), mean_loops=2)["loss"]


def run_distributed(tmp_path):
    argv = ["--steps", "2", "--d-model", "16", "--batch", "2", "--seq-len", "8"]
    args = distributed.parse_args([*argv, "--out", str(tmp_path)])
    return distributed.train(distributed.model_config(args), args, ddp=False)["losses"]


def run_train_mor():
    torch.manual_seed(0)
    model = MoRClassifier(MoRConfig(vocab_size=50, d_model=16, n_heads=2, d_ff=32, max_len=8))
    return ondemand.train_mor(model, toy_classify(), steps=2, batch_size=4)


def run_cost_steps():
    torch.manual_seed(0)
    model = build_model(ModelConfig(**TINY))
    ids, y = toy_classify(n=4).tensors
    cost.train_step_fn(model, ids, y)()
    cost.training_state_memory(model, ids, y)
    return [0.0, 0.0]


LOOPS = {
    "train_model": (train, run_train_model),
    "train_looped": (loops, run_train_looped),
    "train_recurrent": (loops, run_train_recurrent),
    "distributed.train": (distributed, run_distributed),
    "train_mor": (ondemand, run_train_mor),
    "cost.train_step_fn + training_state_memory": (cost, run_cost_steps),
}


@pytest.mark.parametrize("name", list(LOOPS))
def test_each_loop_takes_its_steps_with_train_step(name, counted, tmp_path, one_thread):
    module, run = LOOPS[name]
    counted(module)
    losses = run(tmp_path) if run is run_distributed else run()
    assert len(losses) == 2
    assert counted.calls == [module.__name__] * 2, f"{name}: {counted.calls}"


def test_the_training_panel_resolves_its_dataset_once(monkeypatch):
    from course_lib.data.dataset import Dataset
    from course_lib.views.training_panel import TrainingPanel

    resolved, seen = [], []
    real = Dataset.resolve.__func__

    def counting(cls, dataset):
        resolved.append(dataset)
        return real(cls, dataset)

    def runner(cfg, train_cfg, dataset, progress):
        seen.append(dataset)
        return {"sharing": cfg.sharing, "unique_params": 1, "accuracy": 0.5}

    monkeypatch.setattr(Dataset, "resolve", classmethod(counting))
    plans = ("none", "all", "attention")
    panel = TrainingPanel(ModelConfig.preset("tiny"), TrainConfig(steps=1, warmup_steps=0),
                          selected=plans, runner=runner, progress=False)  # fmt: skip
    panel.train()
    assert resolved == ["rotten_tomatoes"], "one Train resolves the dataset once, for every plan"
    assert len(seen) == 3 and all(isinstance(d, Dataset) and d is seen[0] for d in seen)
