"""What TensorBoard shows beyond Keras's curves: the Tuner's trials (HParams) and the embedding (projector).

Both are written as TensorBoard's own plugins read them: the HParams summary API's experiment and
session summaries, one run per trial; and a projector config with the embedding as TSV, class names as
metadata and a sprite of the images. `tensorboard --logdir <pipeline root>` then names every run by the
component and output that wrote it (`Tuner/…/hparams/trial-01`, `Trainer/…/projector`), and the
projector needs that single local `--logdir` (it is off with `--logdir_spec`).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import tensorflow as tf

from data.classes import CLASS_NAMES

HPARAMS_DIR = "hparams"  # inside the Tuner's results: the experiment, then one run per trial
PROJECTOR_DIR = "projector"  # inside the Trainer's ModelRun
PROJECTOR_CONFIG = "projector_config.pbtxt"  # the name TensorBoard's projector plugin looks for
EMBEDDING_TSV, METADATA_TSV, SPRITE_PNG = "embedding.tsv", "metadata.tsv", "sprite.png"
EMBEDDING_TENSOR = "embedding"
THUMBNAIL_SIDE = 28  # sprite cells at the images' own size
PROJECTOR_IMAGES = 1000  # enough to see clusters; the sprite stays under 1000×1000 pixels


def trial_run_name(number: int) -> str:
    """The TensorBoard run of one trial: `trial-01`, numbered as trials.csv numbers them."""
    return f"trial-{number:02d}"


def _domain(values: list | tuple[float, float]):
    from tensorboard.plugins.hparams import api as hp

    if isinstance(values, tuple):
        return hp.RealInterval(float(values[0]), float(values[1]))
    kinds = {type(v) for v in values}
    if len(kinds) == 1 and kinds <= {int, float, str, bool}:
        return hp.Discrete(values)
    return None  # mixed types: TensorBoard infers the domain from the trials


def write_hparams_logs(
    rows: list[dict[str, Any]],
    ranges: dict[str, list | tuple[float, float]],
    directory: str,
    objective: str,
) -> str:
    """Writes the trials as an HParams experiment: the search space, then one run per trial.

    Args:
        rows: one dict per trial (`trial`, `status`, `score`, `best_step`, and its hyper-parameters).
        ranges: each tuned hyper-parameter's possible values (list) or interval (min, max).
        directory: the folder to write `hparams/` into.
        objective: the metric the search maximised (shown as the trials' metric column).

    Returns:
        The `hparams/` folder written.
    """
    from tensorboard.plugins.hparams import api as hp

    root = os.path.join(directory, HPARAMS_DIR)
    names = list(dict.fromkeys(k for r in rows for k in r if not k.startswith("tuner/")))
    names = [n for n in names if n not in ("trial", "trial_id", "status", "score", "best_step")]
    hparams = {name: hp.HParam(name, _domain(ranges[name]) if name in ranges else None) for name in names}
    with tf.summary.create_file_writer(root).as_default():
        hp.hparams_config(
            hparams=list(hparams.values()), metrics=[hp.Metric(objective, display_name=objective)]
        )
    for row in rows:
        values = {
            hparams[name]: row[name]
            for name in names
            if isinstance(row.get(name), (int, float, str, bool)) and row.get(name) is not None
        }
        with tf.summary.create_file_writer(os.path.join(root, trial_run_name(row["trial"]))).as_default():
            hp.hparams(values, trial_id=f"{trial_run_name(row['trial'])} ({row.get('trial_id')})")
            if row.get("score") is not None:
                tf.summary.scalar(objective, float(row["score"]), step=int(row.get("best_step") or 0))
    return root


def sprite(thumbnails: np.ndarray) -> np.ndarray:
    """Tiles grey thumbnails [N, side, side] row by row into one square uint8 picture (black padding)."""
    count, side = len(thumbnails), thumbnails.shape[1]
    per_row = max(1, math.ceil(math.sqrt(count)))
    grid = np.zeros((per_row * side, per_row * side), dtype=np.uint8)
    for i, image in enumerate(thumbnails):
        row, col = divmod(i, per_row)
        grid[row * side : (row + 1) * side, col * side : (col + 1) * side] = image
    return grid


def write_projector(
    embeddings: np.ndarray, labels: np.ndarray, thumbnails: np.ndarray, directory: str
) -> str:
    """Writes the embedding for TensorBoard's projector: vectors, class names, a sprite, the config.

    Args:
        embeddings: float [N, D], one row per image.
        labels: int [N] class ids.
        thumbnails: uint8 [N, side, side] grey images (white object on black, as Fashion-MNIST).
        directory: the folder to write `projector/` into.

    Returns:
        The `projector/` folder written (a TensorBoard run: it also holds a small event file).
    """
    from tensorboard.plugins import projector

    root = os.path.join(directory, PROJECTOR_DIR)
    tf.io.gfile.makedirs(root)
    with tf.io.gfile.GFile(os.path.join(root, EMBEDDING_TSV), "w") as out:
        out.write("".join("\t".join(f"{v:.6g}" for v in vector) + "\n" for vector in embeddings))
    with tf.io.gfile.GFile(os.path.join(root, METADATA_TSV), "w") as out:
        out.write("class\tclass_id\n")  # two columns: the projector then reads the first line as headers
        out.write("".join(f"{CLASS_NAMES[int(label)]}\t{int(label)}\n" for label in labels))
    png = tf.io.encode_png(sprite(thumbnails)[..., np.newaxis]).numpy()
    with tf.io.gfile.GFile(os.path.join(root, SPRITE_PNG), "wb") as out:
        out.write(png)
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = EMBEDDING_TENSOR
    embedding.tensor_path = EMBEDDING_TSV
    embedding.metadata_path = METADATA_TSV
    embedding.sprite.image_path = SPRITE_PNG
    embedding.sprite.single_image_dim.extend([thumbnails.shape[2], thumbnails.shape[1]])
    projector.visualize_embeddings(root, config)
    # A run is a folder with an event file: this one makes the projector's folder a run of its own.
    with tf.summary.create_file_writer(root).as_default():
        tf.summary.text(
            "projector",
            f"{len(labels)} validation images embedded into {embeddings.shape[1]} dimensions",
            step=0,
        )
    return root
