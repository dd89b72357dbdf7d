"""Finding the newest model version under a TF Serving model folder and copying it, through TFX's fileio."""

from __future__ import annotations

import posixpath

from tfx.dsl.io import fileio

from serving.versions import newest_version


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
        The version copied, or None when nothing is served yet (then nothing is written). Which folder
        is a version, and which is newest, is `serving.versions`' rule (TF Serving's).
    """
    newest = newest_version(model_dir)
    if newest is None:
        return None
    version, folder = newest
    copy_tree(folder, destination)
    return version
