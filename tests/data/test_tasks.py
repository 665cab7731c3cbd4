"""The synthetic tasks of notebook 03: seeded, labelled correctly, and refusing bad sizes."""

import pytest
import torch

from course_lib.data.synthetic import (
    PAD,
    A,
    B,
    arithmetic_sequences,
    lm_dataset,
    majority_task,
    make_task,
    order_task,
)


def test_order_task_labels_say_whether_a_comes_first():
    ids, labels = order_task(500, seq_len=9, vocab_size=10, seed=3).tensors
    assert ids.shape == (500, 9) and labels.shape == (500,)
    assert ((ids == A).sum(1) == 1).all() and ((ids == B).sum(1) == 1).all()
    first_a = (ids == A).float().argmax(1)
    first_b = (ids == B).float().argmax(1)
    assert torch.equal(labels, (first_a < first_b).long())
    assert 0.4 < labels.float().mean() < 0.6
    assert not (ids == PAD).any()


def test_swapping_a_and_b_flips_the_order_label_but_not_the_token_counts():
    ids, labels = order_task(50, seed=1).tensors
    swapped = ids.clone()
    swapped[ids == A], swapped[ids == B] = B, A
    first_a = (swapped == A).float().argmax(1)
    first_b = (swapped == B).float().argmax(1)
    assert torch.equal((first_a < first_b).long(), 1 - labels)
    assert torch.equal(ids.sort(1).values, swapped.sort(1).values)  # same bag of tokens


def test_majority_task_has_no_ties_and_correct_labels():
    for seq_len in (2, 5, 12, 13):
        ids, labels = majority_task(300, seq_len=seq_len, seed=0).tensors
        n_a, n_b = (ids == A).sum(1), (ids == B).sum(1)
        assert ((n_a + n_b) % 2 == 1).all()
        assert torch.equal(labels, (n_a > n_b).long())


def test_tasks_repeat_with_a_seed_and_differ_across_seeds():
    for name in ("order", "majority"):
        a, b = make_task(name, 64, seed=5), make_task(name, 64, seed=5)
        assert torch.equal(a.tensors[0], b.tensors[0])
        assert not torch.equal(a.tensors[0], make_task(name, 64, seed=6).tensors[0])


def test_arithmetic_sequences_follow_their_step_and_shift_into_pairs():
    seqs = arithmetic_sequences(100, seq_len=7, vocab_size=11, steps=(2, 5), seed=0)
    diffs = (seqs[:, 1:] - seqs[:, :-1]) % 11
    assert (diffs == diffs[:, :1]).all() and set(diffs[:, 0].tolist()) == {2, 5}
    x, y = lm_dataset(seqs).tensors
    assert torch.equal(x, seqs[:, :-1]) and torch.equal(y, seqs[:, 1:])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: order_task(0), "n_samples=0"),
        (lambda: order_task(10, seq_len=1), "seq_len=1"),
        (lambda: majority_task(10, vocab_size=3), "vocab_size=3"),
        (lambda: order_task(10, seed=-1), "seed=-1"),
        (lambda: arithmetic_sequences(10, steps=()), r"steps=\(\)"),
        (lambda: lm_dataset(torch.zeros(4, 1, dtype=torch.long)), r"shape \(4, 1\)"),
        (lambda: make_task("sorting", 10), "task='sorting' is not allowed"),
    ],
)
def test_bad_arguments_name_the_field(call, message):
    with pytest.raises(ValueError, match=message):
        call()
