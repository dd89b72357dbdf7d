"""Checks a run's root before any work starts: writable, with room, and an ML Metadata store that is whole."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path


class StorageError(RuntimeError):
    """The run's root cannot be written; raised before any work starts."""


class MetadataStoreError(RuntimeError):
    """The root's ML Metadata store is damaged or missing while artifacts of earlier runs remain."""


# A run refuses to start below this much free space: ML Metadata (SQLite) fails mid-run with "database
# or disk is full" when the disk fills, so a nearly full disk is refused before any work starts.
MIN_FREE_BYTES = 64 << 20
SQLITE_HEADER = b"SQLite format 3\x00"


def check_writable(path: Path, min_free_bytes: int = MIN_FREE_BYTES) -> None:
    """Creates `path` if needed, proves it writable with a probe file and checks its free space.

    Raises:
        StorageError: naming the path and the operating system's reason (or the free space left).
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        try:
            probe.write_bytes(b"\0" * 4096)
        finally:
            probe.unlink(missing_ok=True)
        free = shutil.disk_usage(path).free
    except OSError as err:
        reason = "disk full" if err.errno == errno.ENOSPC else err.strerror or str(err)
        raise StorageError(f"output root {path} is not writable: {reason}") from err
    if free < min_free_bytes:
        raise StorageError(
            f"output root {path} is not writable: disk full ({free / 2**20:.1f} MB free, a run needs at "
            f"least {min_free_bytes / 2**20:.0f} MB); free some space or pass a different --root"
        )


def _sqlite_problem(metadata_path: Path) -> str | None:
    """Returns why `metadata_path` is not a whole SQLite database, or None if it is."""
    with open(metadata_path, "rb") as store:
        header = store.read(len(SQLITE_HEADER))
    if not header:
        return None  # an empty file: SQLite and ML Metadata treat it as a new, empty store
    if header != SQLITE_HEADER:
        return "it does not start like an SQLite database"
    try:
        # Read-only, so a check never changes the store it judges.
        connection = sqlite3.connect(f"file:{metadata_path}?mode=ro", uri=True)
        try:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.DatabaseError as err:
        return f"SQLite cannot read it ({err})"
    return None if verdict == "ok" else f"SQLite finds it damaged ({verdict})"


def check_metadata_store(metadata_path: Path, pipeline_root: Path) -> None:
    """Refuses a damaged ML Metadata store, or a missing one beside artifacts of earlier runs.

    ML Metadata is what ties the artifact folders to the executions that wrote them; without it a rerun
    cannot reuse them and TFX fails deep inside a component on the folders left behind.

    Raises:
        MetadataStoreError: saying what is wrong and what to do.
    """
    advice = f"start from a fresh --root, or delete {metadata_path.parent} to start over"
    if metadata_path.exists():
        problem = _sqlite_problem(metadata_path)
        if problem:
            raise MetadataStoreError(f"ML Metadata store {metadata_path} is damaged: {problem}; {advice}")
        return
    leftovers = sorted(p.name for p in pipeline_root.iterdir()) if pipeline_root.is_dir() else []
    if leftovers:
        raise MetadataStoreError(
            f"ML Metadata store {metadata_path} is missing but {pipeline_root} holds artifacts of an earlier "
            f"run ({', '.join(leftovers[:3])}{', …' if len(leftovers) > 3 else ''}), which cannot be "
            f"reused without it; {advice}"
        )
