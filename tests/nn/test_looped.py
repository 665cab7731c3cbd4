"""course_lib.nn.looped: one block looped with ACT halting; task generators; comparator."""

import pytest
import torch

from course_lib import count_parameters
from course_lib.nn.looped import (
    BLANK,
    DIGIT0,
    IGNORE,
    LOOPED_TASKS,
    LoopedConfig,
    LoopedTransformer,
    algorithmic_batch,
    build_unshared_comparator,
    evaluate_looped,
    looped_parameter_count,
    task_seq_len,
)
from course_lib.training.loops import train_looped
from course_lib.training.step import training_loss


def small(**changes) -> LoopedConfig:
    return LoopedConfig(**{"d_model": 32, "n_heads": 4, "d_ff": 64, "max_steps": 5, **changes})


def model_of(cfg: LoopedConfig) -> LoopedTransformer:
    torch.manual_seed(0)
    return LoopedTransformer(cfg)


def number(digits: torch.Tensor) -> int:
    """Digits (tokens), least significant first, as an int."""
    return sum(int(t - DIGIT0) * 10**i for i, t in enumerate(digits.tolist()))


@pytest.mark.parametrize("task", LOOPED_TASKS)
def test_generators_shapes_and_answers(task):
    ids, targets = algorithmic_batch(task, 16, 4, seed=3)
    assert ids.shape == targets.shape == (16, task_seq_len(task, 4))
    slots = targets != IGNORE
    assert (ids[slots] == BLANK).all() and (ids[~slots] != BLANK).all()
    for row, tgt in zip(ids, targets, strict=True):
        answer = tgt[tgt != IGNORE]
        if task == "copy":
            assert torch.equal(answer, row[:4])
        elif task == "reverse":
            assert torch.equal(answer, row[:4].flip(0))
        else:
            assert number(answer) == number(row[:4]) + number(row[5:9])
    again, _ = algorithmic_batch(task, 16, 4, seed=3)
    assert torch.equal(ids, again)  # seeded


def test_generator_errors_name_the_field():
    with pytest.raises(ValueError, match="task='sort'"):
        algorithmic_batch("sort", 2, 3)
    with pytest.raises(ValueError, match="length=0"):
        algorithmic_batch("copy", 2, 0)
    with pytest.raises(ValueError, match="d_model"):
        LoopedConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="halt_eps"):
        LoopedConfig(halt_eps=1.5)


@pytest.mark.parametrize("act", [True, False])
def test_shapes_and_halting_weights_sum_to_one(act):
    cfg = small(act=act)
    ids, _ = algorithmic_batch("addition", 6, 3)
    out = model_of(cfg)(ids)
    b, t = ids.shape
    assert out.logits.shape == (b, t, cfg.vocab_size)
    assert out.halt_weights.shape == (b, t, cfg.max_steps)
    assert out.ponder.shape == out.n_updates.shape == (b, t)
    torch.testing.assert_close(out.halt_weights.sum(-1), torch.ones(b, t))
    assert (out.halt_weights >= 0).all()
    assert ((out.n_updates >= 1) & (out.n_updates <= cfg.max_steps)).all()
    # no weight after a position has halted: step n has weight only if n < N
    steps = torch.arange(cfg.max_steps)
    assert (out.halt_weights[steps >= out.n_updates.unsqueeze(-1)] == 0).all()


def test_ponder_cost_is_steps_plus_remainder_and_has_a_gradient():
    cfg = small(halt_bias_init=-1.0)  # p = 0.27: several steps before halting
    model = model_of(cfg)
    ids, targets = algorithmic_batch("copy", 4, 3)
    out = model(ids)
    last = out.halt_weights.gather(-1, (out.n_updates.long() - 1).unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(out.ponder, out.n_updates + last)  # rho = N + R
    assert ((out.ponder > 1) & (out.ponder <= cfg.max_steps + 1)).all()
    out.ponder.mean().backward()
    assert model.halt.bias.grad.abs().item() > 0  # R teaches the halting unit


def test_halting_bias_controls_the_number_of_steps():
    ids, _ = algorithmic_batch("copy", 3, 3)
    eager = model_of(small(halt_bias_init=20.0))(ids)  # p ~ 1: stop after one step
    assert (eager.n_updates == 1).all()
    lazy = model_of(small(halt_bias_init=-20.0))(ids)  # p ~ 0: run to max_steps
    assert (lazy.n_updates == 5).all()
    torch.testing.assert_close(lazy.halt_weights[..., -1], torch.ones(3, 7), atol=1e-6, rtol=0)
    fixed = model_of(small(act=False))(ids)
    assert (fixed.n_updates == 5).all() and (fixed.halt_weights[..., -1] == 1).all()


@pytest.mark.parametrize("max_steps", [1, 4, 12])
def test_parameter_count_is_one_block_plus_embeddings(max_steps):
    cfg = small(max_steps=max_steps)
    model = model_of(cfg)
    assert count_parameters(model) == looped_parameter_count(cfg) == looped_parameter_count(small())
    block = sum(p.numel() for p in model.block.parameters())
    assert count_parameters(model) == block + sum(p.numel() for p in model.io.parameters()) + 33


def test_gradients_reach_every_parameter():
    model = model_of(small(halt_bias_init=-1.0))
    ids, targets = algorithmic_batch("reverse", 4, 3)
    training_loss(model(ids), targets, 0.01).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("n_layers", [1, 2, 4])
def test_unshared_comparator_has_equal_parameters(n_layers):
    cfg = small(max_steps=6)
    comp = build_unshared_comparator(cfg, n_layers)
    assert count_parameters(comp) == pytest.approx(looped_parameter_count(cfg), rel=0.005)
    assert len({id(layer) for layer in comp.stack.layers}) == n_layers  # nothing shared
    ids, targets = algorithmic_batch("copy", 2, 3)
    out = comp(ids)
    assert out.logits.shape == (2, 7, cfg.vocab_size) and (out.n_updates == n_layers).all()
    with pytest.raises(ValueError, match="n_layers"):
        build_unshared_comparator(cfg, 0)


def test_training_lowers_the_loss_and_evaluates_longer_inputs():
    model = model_of(small())
    hist = train_looped(model, "copy", steps=30, batch_size=8, lengths=(1, 3), lr=3e-3)
    assert sum(hist["loss"][-5:]) < sum(hist["loss"][:5])
    res = evaluate_looped(model, "copy", length=5, n=32)
    assert 0 <= res["sequence_accuracy"] <= res["digit_accuracy"] <= 1
    assert 1 <= res["mean_steps"] <= 5
    with pytest.raises(ValueError, match="lengths"):
        train_looped(model, "copy", steps=1, lengths=(3, 2))
