"""S3 roots (AWS S3, MinIO): TensorFlow's s3:// filesystem, the bucket probe, and honest exit codes.

Its use of tensorflow-io's and CPython's internals is fenced in compat/tensorflow_io.py.

Every client finds the store through the standard settings, so one image runs on MinIO and on AWS:

- TensorFlow (`tf.io.gfile`, so TFX `fileio`, TFT, TFMA, Keras and SavedModel): tensorflow-io's S3
  filesystem, registered by importing `tensorflow_io`; it reads `S3_ENDPOINT` (e.g.
  `http://minio-service.kubeflow:9000`; unset on AWS), `AWS_REGION`, `AWS_ACCESS_KEY_ID` and
  `AWS_SECRET_ACCESS_KEY` (the AWS SDK for C++).
- Beam's `FileSystems` (`apache-beam[aws]`) and the probe below (boto3): `AWS_ENDPOINT_URL`,
  `AWS_REGION` and the same credentials (or Beam's `--s3_endpoint_url` and related options).

tensorflow-io 0.37.1 aborts every process that used its S3 filesystem at interpreter exit (exit code
134, after the work is done; the cause is in compat/tensorflow_io.py): `exit_process` ends such a
process with its real code once Python's own shutdown work is done.
"""

from __future__ import annotations

import os
import sys
import traceback
import uuid
from collections.abc import Callable
from typing import NoReturn

from pipeline.config import S3_SCHEME
from pipeline.storage import BucketError

# The S3 probe must answer quickly: a wrong endpoint otherwise stalls in the SDK's retries.
PROBE_TIMEOUT_SECONDS = 15

_filesystem_registered = False


def split_s3_uri(uri: str) -> tuple[str, str]:
    """Returns (bucket, key prefix without slashes at either end) of an `s3://` URI."""
    bucket, _, prefix = uri[len(S3_SCHEME) :].partition("/")
    return bucket, prefix.strip("/")


def register_s3_filesystem() -> None:
    """Makes `s3://` usable in this process: TensorFlow's S3 filesystem and Beam's outside a pipeline.

    Importing tensorflow-io registers its filesystem with TensorFlow. Beam's S3 filesystem needs
    pipeline options to build its client (a Beam pipeline sets its own when it starts); until then the
    defaults are set here, so `FileSystems` calls outside a pipeline read the standard AWS settings.
    Idempotent.
    """
    global _filesystem_registered
    if _filesystem_registered:
        return
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    from compat.tensorflow_io import register_tensorflow_s3_filesystem

    register_tensorflow_s3_filesystem()
    FileSystems.set_options(PipelineOptions([]))
    _filesystem_registered = True


def register_s3_filesystem_for(*paths: str) -> None:
    """Registers the S3 filesystems (register_s3_filesystem) if any of `paths` is an `s3://` URI."""
    if any(str(path).startswith(S3_SCHEME) for path in paths):
        register_s3_filesystem()


def exit_process(code: int) -> NoReturn:
    """Ends the process with `code`, skipping C++ static destructors if the S3 filesystem was loaded.

    Python's own shutdown work runs first (atexit handlers: logging, Beam, TensorFlow; then the standard
    streams are flushed); only the native static destructors, where tensorflow-io 0.37.1 aborts with
    exit code 134, are skipped. Without the S3 filesystem this is a plain `sys.exit(code)`.
    """
    if not _filesystem_registered:
        sys.exit(code)
    from compat.tensorflow_io import exit_skipping_native_destructors

    exit_skipping_native_destructors(code)


def exit_after(command: Callable[[], int | None]) -> NoReturn:
    """Runs a process's main `command` and ends the process with its exit code through exit_process.

    The code is what Python would make of it: a returned int or `SystemExit` code as is (None is 0, a
    message is printed and gives 1); an uncaught exception is printed with its traceback and gives 1.
    """
    code: object
    try:
        code = command()
    except SystemExit as stop:
        code = stop.code
    except Exception:  # noqa: BLE001  (printed as Python would, then its exit code 1)
        traceback.print_exc()
        code = 1
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    exit_process(code or 0)


def check_s3_bucket_writable(uri: str) -> None:
    """Writes and deletes a probe object under `uri`, an `s3://` root, with one short attempt (boto3).

    Raises:
        BucketError: naming the root and the reason (unreachable endpoint, no such bucket, wrong or
            missing credentials, no write access).
    """
    import boto3
    import botocore.config
    import botocore.exceptions

    bucket, prefix = split_s3_uri(uri)
    probe = "/".join(p for p in (prefix, f".write-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}") if p)
    config = botocore.config.Config(
        connect_timeout=PROBE_TIMEOUT_SECONDS,
        read_timeout=PROBE_TIMEOUT_SECONDS,
        retries={"max_attempts": 1, "mode": "standard"},
    )
    try:
        # A new session: the default one keeps the credentials it found first.
        client = boto3.session.Session().client("s3", config=config)
        client.put_object(Bucket=bucket, Key=probe, Body=b"")
        client.delete_object(Bucket=bucket, Key=probe)
    except botocore.exceptions.NoCredentialsError as err:
        raise BucketError(
            f"output root {uri}: no S3 credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        ) from err
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as err:
        raise BucketError(f"output root {uri}: the S3 endpoint is unreachable ({err})") from err
    except botocore.exceptions.ClientError as err:
        error = err.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code == "NoSuchBucket":
            raise BucketError(f"output root {uri}: bucket {bucket} does not exist") from err
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"):
            raise BucketError(f"output root {uri}: the S3 credentials are wrong ({code})") from err
        if code in ("AccessDenied", "403", "AllAccessDisabled"):
            raise BucketError(
                f"output root {uri} is not writable: no write access to bucket {bucket}"
            ) from err
        raise BucketError(
            f"output root {uri} is not writable: {code} {error.get('Message', '')}".rstrip()
        ) from err
    except (botocore.exceptions.BotoCoreError, ValueError) as err:
        raise BucketError(f"output root {uri}: {err}") from err
