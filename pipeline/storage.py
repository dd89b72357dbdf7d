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


def _listing(folder: Path | StorageRoot) -> list[str]:
    """Returns the sorted names in a local folder or under a bucket prefix ([] if there is none)."""
    from tfx.dsl.io import fileio

    folder = str(folder)
    if not fileio.exists(folder) or not fileio.isdir(folder):
        return []
    return sorted(str(name).rstrip("/") for name in fileio.listdir(folder))


def check_metadata_store(metadata_path: Path, pipeline_root: Path | StorageRoot) -> None:
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
    leftovers = _listing(pipeline_root)
    if leftovers:
        raise MetadataStoreError(
            f"ML Metadata store {metadata_path} is missing but {pipeline_root} holds artifacts of an earlier "
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


def check_root(config: PipelineConfig) -> None:
    """Proves, before any work, that the run can write its root and its local state.

    A local root (and its pipeline and serving folders) is probed with a real write; a bucket root
    with a probe object, and its local ML Metadata folder like a local root. For an `s3://` root,
    TensorFlow's S3 filesystem is registered in this process (pipeline/s3.py).

    Raises:
        StorageError: naming the root and the reason (BucketError, a StorageError, for a bucket).
    """
    if isinstance(config.root, StorageRoot):
        from pipeline import s3

        if str(config.root).startswith(s3.S3_SCHEME):
            s3.check_s3_bucket_writable(str(config.root))
            s3.register_s3_filesystem()
        else:
            check_bucket_writable(str(config.root))
        check_writable(config.state_dir)
    else:
        # The root, and the ML Metadata folder (the root itself unless `metadata_dir` names another).
        check_writable(config.root)
        check_writable(config.state_dir)
        # A missing subfolder is created in the (writable) root later; an existing one may be read-only.
        # Probing creates nothing else, so a run refused afterwards (bad data) leaves no empty folders.
        for path in (config.pipeline_root, config.serving_dir):
            if path.exists():
                check_writable(path)
