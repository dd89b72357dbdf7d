"""Serving versions: a model's content digest, the push registry, and staging before publication.

A pushed model is copied to a hidden staging folder (`.staging-<version>`) that TF Serving and the
`predict` command ignore (both take only folders named by a plain number), and renamed into
`<version>` once the smoke check has loaded it and called every signature. Which model a version holds
is recorded by the SHA-256 of its files, so identity survives a lost ML Metadata store.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import time
import uuid

from tfx.dsl.io import fileio
from tfx.utils import io_utils

from components.pusher.model_card import CARD_FILES
from serving.signatures import ASSETS_EXTRA
from serving.versions import SAVED_MODEL_FILE, version_number

REGISTRY = ".pushed_models.json"  # version -> {"digest", "source"}; TF Serving ignores dot files
STAGING_PREFIX = ".staging-"
# Readable by a TF Serving that runs as another user (its container's user, a shared volume's reader).
FILE_MODE = 0o644
FOLDER_MODE = 0o755
_CHUNK = 1 << 20
# The model card the Pusher ships into a version: documentation about the model, not the model, so the
# digest leaves it out and a staged version (model + card) has the digest of the model it was copied from.
CARD_PATHS = frozenset(posixpath.join(ASSETS_EXTRA, name) for name in CARD_FILES)


class PublicationError(RuntimeError):
    """A staged version is not the model the registry recorded for it, so it must not be published."""


def _is_local(path: str) -> bool:
    return "://" not in path


def model_digest(model_dir: str) -> str:
    """Returns the SHA-256 over a SavedModel folder's files: their relative paths and contents.

    The model card files under `assets.extra/` (`CARD_PATHS`) are left out.

    Args:
        model_dir: the SavedModel folder (local or on a bucket).
    """
    digest = hashlib.sha256()
    files = []
    for folder, _, names in fileio.walk(model_dir):
        files += [posixpath.join(str(folder), str(name)) for name in names]
    root = str(model_dir).rstrip("/") + "/"
    for path in sorted(files):
        relative = path[len(root) :]
        if relative in CARD_PATHS:
            continue
        digest.update(relative.encode() + b"\0")
        with fileio.open(path, "rb") as source:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def staging_path(base_directory: str, version: str) -> str:
    """Returns the hidden folder a version is pushed into before its smoke check."""
    return posixpath.join(base_directory, f"{STAGING_PREFIX}{version}")


class RegistryError(RuntimeError):
    """The push registry cannot be read as one; the message names the file and what to do."""


def read_registry(base_directory: str) -> dict[str, dict]:
    """Returns version -> {"digest", "source"} for the versions that still exist, published or staged.

    Entries of the older format (version -> source path) come back without a digest, so they never
    match a model: at worst a model is pushed once more, never mistaken for another.

    Raises:
        RegistryError: the registry is not a JSON object of version entries (damaged or edited by hand).
    """
    path = posixpath.join(base_directory, REGISTRY)
    if not fileio.exists(path):
        return {}
    try:
        with fileio.open(path, "rb") as source:
            registry = json.loads(source.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:  # json.JSONDecodeError is a ValueError
        raise RegistryError(_damaged_registry(path, f"it is not valid JSON ({err})")) from err
    if not isinstance(registry, dict) or not all(isinstance(e, (dict, str)) for e in registry.values()):
        raise RegistryError(_damaged_registry(path, "it is not a JSON object of version entries"))
    entries = {v: e if isinstance(e, dict) else {"source": e} for v, e in registry.items()}
    return {
        v: e
        for v, e in entries.items()
        if fileio.exists(posixpath.join(base_directory, v)) or fileio.exists(staging_path(base_directory, v))
    }


def _damaged_registry(path: str, reason: str) -> str:
    return (
        f"push registry {path} is damaged: {reason}; it records which model each version holds, so "
        "nothing is pushed or published until it is repaired (restore it from a backup, or move it away "
        "to have every later model pushed as a new version)"
    )


def write_readable(path: str, text: str) -> None:
    """Replaces a file atomically (temporary name, then rename) and leaves it readable by others."""
    partial = posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.{uuid.uuid4().hex}")
    with fileio.open(partial, "w") as out:
        out.write(text)
    if _is_local(partial):
        # Temporary files are often created 0600 (and a umask may say so too); TF Serving must read it.
        os.chmod(partial, FILE_MODE)
    fileio.rename(partial, path, overwrite=True)


def record_push(base_directory: str, version: str, digest: str, source: str) -> None:
    """Adds one version to the registry, replacing the file atomically."""
    registry = {**read_registry(base_directory), version: {"digest": digest, "source": source}}
    fileio.makedirs(base_directory)
    write_readable(posixpath.join(base_directory, REGISTRY), json.dumps(registry, indent=1, sort_keys=True))


def next_version(base_directory: str) -> str:
    """Returns a version above every existing one (TF Serving serves the highest), from the clock."""
    taken = [0]
    if fileio.exists(base_directory):
        for name in fileio.listdir(base_directory):
            name = str(name).rstrip("/")
            number = version_number(name[len(STAGING_PREFIX) :] if name.startswith(STAGING_PREFIX) else name)
            if number is not None:
                taken.append(number)
    return str(max(int(time.time()), max(taken) + 1))


def _make_readable(folder: str) -> None:
    for current, _, names in os.walk(folder):
        os.chmod(current, FOLDER_MODE)
        for name in names:
            os.chmod(os.path.join(current, name), FILE_MODE)


def stage_model(model_dir: str, base_directory: str, version: str) -> str:
    """Copies a SavedModel into the version's hidden staging folder; returns that folder.

    `saved_model.pb` is copied last, so even the staging folder holds a loadable model only when
    complete; a leftover of an interrupted copy is replaced.
    """
    staged = staging_path(base_directory, version)
    if fileio.exists(staged):
        fileio.rmtree(staged)
    graph = SAVED_MODEL_FILE
    io_utils.copy_dir(model_dir, staged, deny_regex_patterns=[re.escape(graph)])
    io_utils.copy_file(posixpath.join(model_dir, graph), posixpath.join(staged, graph))
    if _is_local(staged):
        _make_readable(staged)
    return staged


def check_staged(staged: str, destination: str) -> str:
    """Proves a staged folder holds the model the push registry recorded for its version.

    The staging folder is hidden but writable: between the push and the smoke check (or a rerun after
    a killed one) its files could be replaced, and the smoke check alone would pass any loadable model.

    Returns:
        The digest, which matched the registry's.

    Raises:
        PublicationError: no digest recorded for the version, or the staged content differs from it.
    """
    base, version = posixpath.split(destination.rstrip("/"))
    try:
        expected = read_registry(base).get(version, {}).get("digest")
    except RegistryError as err:
        raise PublicationError(f"refusing to publish {staged}: {err}") from err
    if not expected:
        raise PublicationError(
            f"refusing to publish {staged}: the push registry {posixpath.join(base, REGISTRY)} records no "
            f"content digest for version {version}; rerun with --no-cache to push the model again"
        )
    actual = model_digest(staged)
    if actual != expected:
        raise PublicationError(
            f"refusing to publish {staged}: its content (SHA-256 {actual[:12]}…) is not the model pushed "
            f"as version {version} (registry: {expected[:12]}…), so it changed after the push; delete "
            f"{staged} and rerun with --no-cache to push the blessed model again"
        )
    return actual


def publish(staged: str, destination: str) -> None:
    """Renames a checked staging folder into its numbered version, where clients see it.

    The staged content is checked against the registry's digest first (`check_staged`). On a local disk
    the rename is atomic; on a bucket it is a copy and delete (see docs/reliability.md).

    Raises:
        PublicationError: the staged content is not the model recorded for the version.
        FileExistsError: the version is already published.
    """
    check_staged(staged, destination)
    if fileio.exists(destination):
        raise FileExistsError(f"cannot publish {staged}: {destination} already exists")
    if _is_local(staged):
        fileio.rename(staged, destination)
        return
    # An object store has no folder rename (TF's GCS filesystem fails on one): copy, `saved_model.pb`
    # last so the version is loadable only when complete, then delete the staged copy.
    graph = SAVED_MODEL_FILE
    io_utils.copy_dir(staged, destination, deny_regex_patterns=[re.escape(graph)])
    io_utils.copy_file(posixpath.join(staged, graph), posixpath.join(destination, graph))
    fileio.rmtree(staged)
