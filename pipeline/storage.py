"""Checks a run's root before any work: writable (folder or bucket), with room, a whole metadata store."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import uuid
from pathlib import Path

from pipeline.config import PipelineConfig, StorageRoot


class StorageError(RuntimeError):
    """The run's root cannot be written; raised before any work starts."""


class MetadataStoreError(RuntimeError):
    """The root's ML Metadata store is damaged or missing while artifacts of earlier runs remain."""


# A run refuses to start below this much free space: ML Metadata (SQLite) fails mid-run with "database
# or disk is full" when the disk fills, so a nearly full disk is refused before any work starts.
MIN_FREE_BYTES = 64 << 20
SQLITE_HEADER = b"SQLite format 3\x00"
# A table every ML Metadata schema version has: an SQLite file without it is not an ML Metadata store.
MLMD_MARKER_TABLE = "MLMDEnv"


def _not_a_folder(path: Path) -> Path | None:
    """Returns `path` or its nearest ancestor if that is an existing non-folder (a file), else None."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None


def check_writable(path: Path, min_free_bytes: int = MIN_FREE_BYTES, *, create: bool = True) -> None:
    """Proves `path` writable with a probe file and checks its free space, creating it if `create`.

    Without `create`, a missing `path` is judged by its nearest existing folder (write and search
    permission, free space), and nothing is created.

    Raises:
        StorageError: naming the path and the operating system's reason (or the free space left).
    """
    blocker = _not_a_folder(path)
    if blocker is not None:
        where = "it is" if blocker == path else f"{blocker} is"
        raise StorageError(f"output root {path} is not writable: {where} a file, not a folder")
    try:
        if create or path.exists():
            path.mkdir(parents=True, exist_ok=True)
            probe = path / f".write-probe-{os.getpid()}"
            try:
                probe.write_bytes(b"\0" * 4096)
            finally:
                probe.unlink(missing_ok=True)
            free = shutil.disk_usage(path).free
        else:
            existing = next(p for p in path.parents if p.exists())
            # access(2) also answers EROFS for a read-only mount.
            if not os.access(existing, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, f"{existing} is not writable", str(existing))
            free = shutil.disk_usage(existing).free
    except OSError as err:
        reason = "disk full" if err.errno == errno.ENOSPC else err.strerror or str(err)
        raise StorageError(f"output root {path} is not writable: {reason}") from err
    if free < min_free_bytes:
        raise StorageError(
            f"output root {path} is not writable: disk full ({free / 2**20:.1f} MB free, a run needs at "
            f"least {min_free_bytes / 2**20:.0f} MB); free some space or pass a different --root"
        )


def check_state_paths(state_dir: Path) -> None:
    """Refuses a root whose run lock is a folder, or whose `logs` is a file (the store: `store_problem`).

    Raises:
        StorageError: naming the path, what it is and what it should be.
    """
    from pipeline.root_lock import LOCK_FILE
    from pipeline.run_log import LOG_FOLDER

    for name, want_folder in ((LOCK_FILE, False), (LOG_FOLDER, True)):
        path = state_dir / name
        if not path.exists():
            continue
        if want_folder and not path.is_dir():
            raise StorageError(f"{path} is a file, not a folder: the run's logs go there; move it away")
        if not want_folder and not path.is_file():
            raise StorageError(f"{path} is a folder, not a file; move it away or pass a different --root")


def saved_model_around(path: Path) -> Path | None:
    """Returns the SavedModel folder (one holding `saved_model.pb`) that `path` is or lies in, if any."""
    from serving.versions import SAVED_MODEL_FILE

    for candidate in (path, *path.parents):
        if (candidate / SAVED_MODEL_FILE).is_file():
            return candidate
    return None


def _sqlite_problem(metadata_path: Path) -> tuple[str | None, list[str]]:
    """Returns (why `metadata_path` is not a whole SQLite database or None, the tables it holds)."""
    with open(metadata_path, "rb") as store:
        header = store.read(len(SQLITE_HEADER))
    if not header:
        return None, []  # an empty file: SQLite and ML Metadata treat it as a new, empty store
    if header != SQLITE_HEADER:
        return "it does not start like an SQLite database", []
    try:
        # Read-only, so a check never changes the store it judges.
        connection = sqlite3.connect(f"file:{metadata_path}?mode=ro", uri=True)
        try:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
            tables = [
                row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
        finally:
            connection.close()
    except sqlite3.DatabaseError as err:
        return f"SQLite cannot read it ({err})", []
    return (None if verdict == "ok" else f"SQLite finds it damaged ({verdict})"), sorted(tables)


def _listing(folder: Path | StorageRoot) -> list[str]:
    """Returns the sorted names in a local folder or under a bucket prefix ([] if there is none)."""
    from tfx.dsl.io import fileio

    folder = str(folder)
    if not fileio.exists(folder) or not fileio.isdir(folder):
        return []
    return sorted(str(name).rstrip("/") for name in fileio.listdir(folder))


def store_problem(metadata_path: Path) -> str | None:
    """Returns why an existing `metadata_path` cannot be used as an ML Metadata store, or None.

    A missing or empty file is no problem here (ML Metadata creates a new store in it).
    """
    if metadata_path.is_dir():
        return f"ML Metadata store {metadata_path} is a folder, not a file"
    if not metadata_path.exists():
        return None
    problem, tables = _sqlite_problem(metadata_path)
    if problem:
        return f"ML Metadata store {metadata_path} is damaged: {problem}"
    if tables and MLMD_MARKER_TABLE not in tables:
        shown = ", ".join(tables[:3]) + (", …" if len(tables) > 3 else "")
        return f"{metadata_path} is an SQLite database but not an ML Metadata store (its tables: {shown})"
    return None


def _store_advice(metadata_path: Path) -> str:
    return f"start from a fresh --root, or delete {metadata_path.parent} to start over"


def check_metadata_store(metadata_path: Path, pipeline_root: Path | StorageRoot) -> None:
    """Refuses a damaged ML Metadata store, or a missing one beside artifacts of earlier runs.

    ML Metadata is what ties the artifact folders to the executions that wrote them; without it a rerun
    cannot reuse them and TFX fails deep inside a component on the folders left behind.

    Raises:
        MetadataStoreError: saying what is wrong and what to do.
    """
    advice = _store_advice(metadata_path)
    problem = store_problem(metadata_path)
    if problem:
        raise MetadataStoreError(f"{problem}; {advice}")
    if metadata_path.exists() and _sqlite_problem(metadata_path)[1]:
        return  # a whole ML Metadata store
    state = "empty" if metadata_path.exists() else "missing"  # an empty store is a new one
    leftovers = _listing(pipeline_root)
    if leftovers:
        raise MetadataStoreError(
            f"ML Metadata store {metadata_path} is {state} but {pipeline_root} holds artifacts of an earlier "
            f"run ({', '.join(leftovers[:3])}{', …' if len(leftovers) > 3 else ''}), which cannot be "
            f"reused without it; {advice}"
        )


# A probe must answer quickly: a wrong endpoint or a missing network otherwise stalls in retries.
PROBE_TIMEOUT_SECONDS = 15


class BucketError(StorageError):
    """The bucket of a root cannot be used; the message names the root and the reason."""


def split_gcs_uri(uri: str) -> tuple[str, str]:
    """Returns (bucket, object prefix without slashes at either end) of a `gs://` URI."""
    bucket, _, prefix = uri[len("gs://") :].partition("/")
    return bucket, prefix.strip("/")


def check_bucket_writable(uri: str) -> None:
    """Writes and deletes a probe object under `uri`, a `gs://` root (`s3://`: pipeline/s3.py).

    The probe goes through google-cloud-storage (the client Beam's gcsio uses), with one short attempt,
    so an unreachable endpoint, a missing bucket or missing write access is named at once.

    Raises:
        BucketError: naming the root and the reason (unreachable, no such bucket, no write access,
            no credentials).
    """
    import google.auth.exceptions
    import requests
    from google.api_core import exceptions as api_exceptions
    from google.cloud import storage

    bucket_name, prefix = split_gcs_uri(uri)
    probe_name = "/".join(p for p in (prefix, f".write-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}") if p)
    try:
        client = storage.Client()
        blob = client.bucket(bucket_name).blob(probe_name)
        blob.upload_from_string(b"", timeout=PROBE_TIMEOUT_SECONDS, retry=None)
        blob.delete(timeout=PROBE_TIMEOUT_SECONDS, retry=None)
    except google.auth.exceptions.DefaultCredentialsError as err:
        raise BucketError(f"output root {uri}: no Google Cloud credentials found ({err})") from err
    except api_exceptions.NotFound as err:
        raise BucketError(f"output root {uri}: bucket {bucket_name} does not exist") from err
    except (api_exceptions.Forbidden, api_exceptions.Unauthorized) as err:
        raise BucketError(
            f"output root {uri} is not writable: no write access to bucket {bucket_name}"
        ) from err
    except (requests.ConnectionError, requests.Timeout) as err:
        raise BucketError(
            f"output root {uri}: the storage service is unreachable ({type(err).__name__})"
        ) from err
    except api_exceptions.GoogleAPIError as err:
        raise BucketError(f"output root {uri} is not writable: {err}") from err


def check_root(config: PipelineConfig, *, create: bool = True) -> None:
    """Proves, before any work, that the run can write its root and its local state.

    A local root (and its pipeline and serving folders) is probed with a real write; a bucket root
    with a probe object, and its local ML Metadata folder like a local root. For an `s3://` root,
    TensorFlow's S3 filesystem is registered in this process (pipeline/s3.py). A local root inside a
    SavedModel (a published model version) is refused: the run would write into the served model.

    Args:
        config: the run's configuration.
        create: create the missing root folders; without it nothing is created (the CLI's early check,
            so that a run refused afterwards, for its data, leaves nothing behind).

    Raises:
        StorageError: naming the root and the reason (BucketError, a StorageError, for a bucket).
        MetadataStoreError: the root's ML Metadata store is a folder, damaged, or another program's.
    """
    folders = [config.state_dir]
    if isinstance(config.root, StorageRoot):
        from pipeline import s3

        if str(config.root).startswith(s3.S3_SCHEME):
            s3.check_s3_bucket_writable(str(config.root))
            s3.register_s3_filesystem()
        else:
            check_bucket_writable(str(config.root))
    else:
        model = saved_model_around(config.root)
        if model is not None:
            raise StorageError(
                f"output root {config.root} is inside the model folder {model} (it holds a SavedModel, "
                "e.g. a published version that TF Serving serves); a run would write into it; pass a "
                "--root outside any model folder"
            )
        # The root, and the ML Metadata folder (the root itself unless `metadata_dir` names another).
        folders.insert(0, config.root)
    for folder in folders:
        check_writable(folder, create=create)
    check_state_paths(config.state_dir)
    problem = store_problem(config.metadata_path)  # the rest of the store's check needs the artifacts
    if problem:
        raise MetadataStoreError(f"{problem}; {_store_advice(config.metadata_path)}")
    if not isinstance(config.root, StorageRoot):
        # A missing subfolder is created in the (writable) root later; an existing one may be read-only.
        for path in (config.pipeline_root, config.serving_dir):
            if path.exists() or path.is_symlink():
                check_writable(path)
