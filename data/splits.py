"""Deterministic split assignment: eval carved from the training file by a stable hash of each id."""

from __future__ import annotations

import hashlib

import numpy as np

TRAIN, EVAL, TEST = "train", "eval", "test"
SPLITS = (TRAIN, EVAL, TEST)


def example_id(source_file: str, index: int) -> str:
    """Returns the stable id of an image: its source file and its index there."""
    return f"{source_file}:{index}"


def stable_hashes(ids: list[str], seed: int) -> np.ndarray:
    """Returns a uint64 hash per id that depends only on the id and the seed (not on the process)."""
    return np.array(
        [int.from_bytes(hashlib.sha256(f"{seed}:{i}".encode()).digest()[:8], "big") for i in ids],
        dtype=np.uint64,
    )


def balanced_cap(labels: np.ndarray, hashes: np.ndarray, cap: int) -> np.ndarray:
    """Returns the positions of at most `cap` items, spread over the classes as evenly as possible.

    Items are dealt class by class in hash order (the first of every class, then the second of every
    class, ...), so the choice is deterministic and every class gets cap // classes or one more,
    unless a class runs out.
    """
    if cap >= len(labels):
        return np.arange(len(labels))
    rank = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rank[members[np.argsort(hashes[members], kind="stable")]] = np.arange(len(members))
    order = np.lexsort((hashes, rank))
    return np.sort(order[:cap])


def assign_splits(
    train_ids: list[str],
    train_labels: np.ndarray,
    test_ids: list[str],
    test_labels: np.ndarray,
    *,
    eval_fraction: float,
    seed: int,
    caps: dict[str, int | None] | None = None,
) -> dict[str, tuple[str, np.ndarray]]:
    """Assigns every image to a split.

    Args:
        train_ids, train_labels: ids and labels of the official training file.
        test_ids, test_labels: ids and labels of the official test file.
        eval_fraction: share of the training file that becomes `eval` (1/6 gives 10,000 of 60,000).
        seed: changes which images go to `eval`.
        caps: optional per-split maximum sizes, taken class-balanced.

    Returns:
        split name -> (source, sorted positions in that source), where source is "train" or "test".
    """
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must lie in (0, 1), got {eval_fraction}")
    caps = caps or {}
    hashes = stable_hashes(train_ids, seed)
    eval_count = int(round(eval_fraction * len(train_ids)))
    by_hash = np.argsort(hashes, kind="stable")
    eval_positions = np.sort(by_hash[:eval_count])
    train_positions = np.sort(by_hash[eval_count:])
    test_positions = np.arange(len(test_ids))
    test_hashes = stable_hashes(test_ids, seed)
    chosen = {
        TRAIN: ("train", train_positions, train_labels, hashes),
        EVAL: ("train", eval_positions, train_labels, hashes),
        TEST: ("test", test_positions, test_labels, test_hashes),
    }
    result = {}
    for split, (source, positions, labels, split_hashes) in chosen.items():
        cap = caps.get(split)
        if cap is not None:
            positions = positions[balanced_cap(labels[positions], split_hashes[positions], cap)]
        result[split] = (source, positions)
    return result
