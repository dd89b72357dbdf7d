"""Turning the four IDX files into split TFRecord files of tf.Examples (ExampleGen's work, without TFX)."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import numpy as np
import tensorflow as tf
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts

from data import fashion_mnist as fm
from data.examples import make_example
from data.idx import IdxFormatError
from data.splits import SPLITS, assign_splits, example_id

IMAGES_PER_SHARD = 10_000


def split_dir(root: str | os.PathLike, split: str) -> str:
    """Returns the folder of one split inside an Examples artifact at `root`, by TFX's own helper."""
    examples = standard_artifacts.Examples()
    examples.uri = str(root)
    examples.split_names = artifact_utils.encode_split_names([split])
    return artifact_utils.get_split_uri([examples], split)


def shard_path(root: str | os.PathLike, split: str, shard: int, num_shards: int) -> str:
    """Returns the path of one gzip TFRecord shard of a split."""
    return posixpath.join(split_dir(root, split), f"data_tfrecord-{shard:05d}-of-{num_shards:05d}.gz")


def move_files(source_dir: str, destination_dir: str) -> None:
    """Moves the files of `source_dir` (one level) into `destination_dir`, through TFX's fileio.

    A rename on a local disk, a copy and delete in a bucket (which has no rename).
    """
    fileio.makedirs(destination_dir)
    for name in fileio.listdir(source_dir):
        fileio.rename(posixpath.join(source_dir, name), posixpath.join(destination_dir, name), overwrite=True)


def ingest_idx(
    data_dir: str | Path,
    output_dir: str | Path,
    *,
    eval_fraction: float,
    seed: int,
    caps: dict[str, int | None] | None = None,
    contents: dict[str, bytes] | None = None,
) -> dict[str, dict[str, int]]:
    """Parses the IDX files and writes the train / eval / test splits as gzip TFRecords.

    Everything is written under a staging folder and moved into place only once every split is
    complete, so a failure leaves no partial split in `output_dir`.

    Args:
        data_dir: folder with the four Fashion-MNIST files (`.gz` or raw).
        output_dir: the Examples artifact's folder, local or in a bucket; receives `Split-train/`,
            `Split-eval/`, `Split-test/`.
        eval_fraction: share of the training file carved out as `eval`.
        seed: seed of the stable hash that picks the eval images.
        caps: optional class-balanced per-split caps.
        contents: the four files' decompressed contents, as verified (`fashion_mnist.read_contents`);
            parsed as given, so the bytes checked are the bytes ingested. Read from `data_dir` if None.

    Returns:
        split -> {class id (as a string) -> count}.

    Raises:
        IdxFormatError: a file is missing or malformed (the message names it), or a split would be empty.
    """
    data_dir = Path(data_dir)
    pairs = fm.parse_split_sources(data_dir, fm.read_contents(data_dir) if contents is None else contents)
    (train_images, train_labels), (test_images, test_labels) = pairs["train"], pairs["test"]
    sources = {
        "train": (fm.TRAIN_IMAGES, train_images, train_labels),
        "test": (fm.TEST_IMAGES, test_images, test_labels),
    }
    ids = {name: [example_id(f, i) for i in range(len(lab))] for name, (f, _, lab) in sources.items()}
    assignment = assign_splits(
        ids["train"],
        train_labels,
        ids["test"],
        test_labels,
        eval_fraction=eval_fraction,
        seed=seed,
        caps=caps,
    )
    empty = [split for split in SPLITS if not len(assignment[split][1])]
    if empty:
        raise IdxFormatError(
            f"{data_dir}: the {' and '.join(empty)} split(s) would be empty (training file: "
            f"{len(train_labels)} images, eval fraction {eval_fraction:g}, caps {caps or 'none'}); "
            "every split needs at least one image"
        )
    output_dir = str(output_dir)
    staging = posixpath.join(output_dir, ".staging")
    _remove_tree(staging)
    counts: dict[str, dict[str, int]] = {}
    try:
        for split in SPLITS:
            source, positions = assignment[split]
            _, images, labels = sources[source]
            num_shards = max(1, -(-len(positions) // IMAGES_PER_SHARD))
            fileio.makedirs(split_dir(staging, split))
            writers = [
                tf.io.TFRecordWriter(shard_path(staging, split, s, num_shards), options="GZIP")
                for s in range(num_shards)
            ]
            for n, position in enumerate(positions):
                example = make_example(images[position], int(labels[position]), ids[source][position])
                # deterministic=True: map fields (the features) otherwise serialize in a per-process
                # order, and two runs with the same data would write different bytes.
                writers[n % num_shards].write(example.SerializeToString(deterministic=True))
            for writer in writers:
                writer.close()
            classes, class_counts = np.unique(labels[positions], return_counts=True)
            counts[split] = {str(int(c)): int(k) for c, k in zip(classes, class_counts, strict=True)}
        for split in SPLITS:
            move_files(split_dir(staging, split), split_dir(output_dir, split))
        _remove_tree(staging)
    except BaseException:
        _remove_tree(staging)
        raise
    return counts


def _remove_tree(path: str) -> None:
    if fileio.exists(path):
        fileio.rmtree(path)
