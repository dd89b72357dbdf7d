"""Finding the newest model version under a TF Serving model folder and copying it, through TFX's fileio."""

from __future__ import annotations

import posixpath

import tensorflow as tf
from tfx.dsl.io import fileio


def served_versions(model_dir: str) -> list[int]:
    """Returns the version numbers under `model_dir` that hold a SavedModel, oldest first.

    TF Serving serves the highest numbered version; folders that are not numbers, or hold no
    `saved_model.pb` (a copy still in progress), are not versions.
    """
    if not fileio.isdir(model_dir):
        return []
    versions = []
    for name in fileio.listdir(model_dir):
        name = name.rstrip("/")
        if name.isdigit() and fileio.exists(
            posixpath.join(model_dir, name, tf.saved_model.SAVED_MODEL_FILENAME_PB)
        ):
            versions.append(int(name))
    return sorted(versions)


def copy_tree(source: str, destination: str) -> int:
    """Copies every file under `source` to `destination` (folders included); returns the file count."""
    count = 0
    for folder, _, files in fileio.walk(source):
        # String slicing, not relpath: relpath would treat `gs://b/x` as a relative local path.
        relative = folder[len(source) :].strip("/")
        target = posixpath.join(destination, relative) if relative else destination
        fileio.makedirs(target)
        for name in files:
            fileio.copy(posixpath.join(folder, name), posixpath.join(target, name), overwrite=True)
            count += 1
    return count


def copy_served_model(model_dir: str, destination: str) -> int | None:
    """Copies the newest served version of `model_dir` into `destination`.

    Args:
        model_dir: a TF Serving model folder (`<serving root>/<model name>`), local or in a bucket.
        destination: the folder that receives the SavedModel.

    Returns:
        The version copied, or None when nothing is served yet (then nothing is written).
    """
    versions = served_versions(model_dir)
    if not versions:
        return None
    copy_tree(posixpath.join(model_dir, str(versions[-1])), destination)
    return versions[-1]
