"""Split assignment: exact sizes, disjoint, deterministic, seed-dependent, class-balanced caps."""

from __future__ import annotations

import numpy as np

from data.splits import EVAL, TEST, TRAIN, assign_splits, balanced_cap, example_id


def _inputs(train=600, test=100):
    train_ids = [example_id("train-images-idx3-ubyte", i) for i in range(train)]
    test_ids = [example_id("t10k-images-idx3-ubyte", i) for i in range(test)]
    rng = np.random.default_rng(7)
    return train_ids, rng.integers(0, 10, train), test_ids, rng.integers(0, 10, test)


def test_eval_is_carved_exactly_and_disjointly():
    train_ids, train_labels, test_ids, test_labels = _inputs()
    splits = assign_splits(train_ids, train_labels, test_ids, test_labels, eval_fraction=1 / 6, seed=42)
    train, evaluation = set(splits[TRAIN][1]), set(splits[EVAL][1])
    assert len(evaluation) == 100
    assert len(train) == 500
    assert not train & evaluation
    assert train | evaluation == set(range(600))
    assert splits[TEST][0] == "test" and len(splits[TEST][1]) == 100


def test_assignment_is_deterministic_and_seeded():
    args = _inputs()
    first = assign_splits(*args, eval_fraction=0.2, seed=1)
    again = assign_splits(*args, eval_fraction=0.2, seed=1)
    other = assign_splits(*args, eval_fraction=0.2, seed=2)
    np.testing.assert_array_equal(first[EVAL][1], again[EVAL][1])
    assert set(first[EVAL][1]) != set(other[EVAL][1])


def test_membership_depends_on_id_not_on_position():
    train_ids, train_labels, test_ids, test_labels = _inputs()
    splits = assign_splits(train_ids, train_labels, test_ids, test_labels, eval_fraction=0.25, seed=3)
    reversed_splits = assign_splits(
        train_ids[::-1], train_labels[::-1], test_ids, test_labels, eval_fraction=0.25, seed=3
    )
    chosen = {train_ids[i] for i in splits[EVAL][1]}
    chosen_reversed = {train_ids[::-1][i] for i in reversed_splits[EVAL][1]}
    assert chosen == chosen_reversed


def test_caps_are_class_balanced():
    train_ids, train_labels, test_ids, test_labels = _inputs()
    splits = assign_splits(
        train_ids, train_labels, test_ids, test_labels, eval_fraction=0.2, seed=0, caps={TRAIN: 50, TEST: 23}
    )
    counts = np.bincount(train_labels[splits[TRAIN][1]], minlength=10)
    assert counts.sum() == 50 and counts.min() == counts.max() == 5
    test_counts = np.bincount(test_labels[splits[TEST][1]], minlength=10)
    assert test_counts.sum() == 23 and test_counts.max() - test_counts.min() <= 1
    assert len(splits[EVAL][1]) == 120  # uncapped


def test_balanced_cap_gives_short_classes_everything():
    labels = np.array([0] * 10 + [1] * 2)
    hashes = np.arange(12, dtype=np.uint64)[::-1].copy()
    chosen = balanced_cap(labels, hashes, 6)
    assert sorted(labels[chosen].tolist()) == [0, 0, 0, 0, 1, 1]
