"""Checking, before any work, that a bucket root (`gs://bucket/path`) exists and accepts writes."""

from __future__ import annotations

import os
import uuid

# A probe must answer quickly: a wrong endpoint or a missing network otherwise stalls in retries.
PROBE_TIMEOUT_SECONDS = 15


class BucketError(RuntimeError):
    """The bucket of a root cannot be used; the message names the root and the reason."""


def split_gcs_uri(uri: str) -> tuple[str, str]:
    """Returns (bucket, object prefix without slashes at either end) of a `gs://` URI."""
    bucket, _, prefix = uri[len("gs://") :].partition("/")
    return bucket, prefix.strip("/")


def check_bucket_writable(uri: str) -> None:
    """Writes and deletes a probe object under `uri`, a `gs://` root.

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
