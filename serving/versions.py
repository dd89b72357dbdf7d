"""Which folder under a TF Serving model folder is a model version, and which version is newest.

The one rule every caller uses (the ServingBaseline, the Pusher's numbering, `predict`'s model look-up):
a version is a folder named by a plain ASCII decimal number that holds a `saved_model.pb`, as TF Serving
reads it. `str.isdigit()` is not that rule: it also accepts `٩٩٩` (Arabic-Indic digits, which `int()`
reads as 999) and `²` (which `int()` refuses); TF Serving ignores both, and so does this module.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

# TensorFlow's `tf.saved_model.SAVED_MODEL_FILENAME_PB`, named here without importing TensorFlow: the run's
# early checks (a root inside a model folder) answer before TensorFlow loads. The test of this module
# checks the two agree.
SAVED_MODEL_FILE = "saved_model.pb"
# ASCII digits only (re.ASCII: `\d` and `[0-9]` stay ASCII); 18 digits keep every version an int64.
VERSION_NAME = re.compile(r"[0-9]{1,18}", re.ASCII)


def version_number(name: str) -> int | None:
    """Returns the version a folder name stands for, or None if the name is not a version.

    Args:
        name: a folder name as listed (a trailing `/`, as bucket listings give, is ignored).
    """
    name = str(name).rstrip("/")
    return int(name) if VERSION_NAME.fullmatch(name) else None


def version_folders(model_dir: str | Path) -> dict[int, str]:
    """Returns version -> folder path of the complete versions under a model folder (local or bucket).

    A folder without `saved_model.pb` (a copy still in progress) is not a version. When two folders
    name the same number (`7` and `007`), the first listed is kept, as TF Serving serves one of them.
    """
    from tfx.dsl.io import fileio

    model_dir = str(model_dir)
    if not fileio.exists(model_dir) or not fileio.isdir(model_dir):
        return {}
    found: dict[int, str] = {}
    for name in sorted(str(n).rstrip("/") for n in fileio.listdir(model_dir)):
        number = version_number(name)
        folder = posixpath.join(model_dir, name)
        if (
            number is not None
            and number not in found
            and fileio.exists(posixpath.join(folder, SAVED_MODEL_FILE))
        ):
            found[number] = folder
    return found


def served_versions(model_dir: str | Path) -> list[int]:
    """Returns the version numbers under `model_dir` that hold a SavedModel, oldest first."""
    return sorted(version_folders(model_dir))


def newest_version(model_dir: str | Path) -> tuple[int, str] | None:
    """Returns (version, folder) of the version TF Serving serves by default (the highest), or None."""
    folders = version_folders(model_dir)
    if not folders:
        return None
    newest = max(folders)
    return newest, folders[newest]
