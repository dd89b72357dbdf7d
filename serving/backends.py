"""Where `predict`, `embed` and `similar` find the model: a local SavedModel, or TF Serving over REST/gRPC."""

from __future__ import annotations

import argparse
from collections.abc import Callable

BACKENDS = ("local", "rest", "grpc")


def local_model_folder(args: argparse.Namespace):
    """The SavedModel folder chosen by `--model-dir`, or `--serving-root`, `--model-name`, `--version`.

    The one place where these options become a path. An `s3://` URI is read through TensorFlow's S3
    filesystem (pipeline/s3.py; the `AWS_*` and `S3_ENDPOINT` settings); any other URI (`gs://…`) is
    refused here rather than read as a local folder named `gs:`.

    Raises:
        PayloadError: a URI was given.
        ServingError: no loadable model is there.
    """
    from pipeline.config import S3_SCHEME, is_uri
    from serving.local import resolve_model_dir
    from serving.payloads import PayloadError

    for option, value in (("--model-dir", args.model_dir), ("--serving-root", args.serving_root)):
        if value is not None and is_uri(value) and not value.startswith(S3_SCHEME):
            raise PayloadError(
                f"{option} {value}: a bucket URI; the local backend loads models from local folders and "
                f"{S3_SCHEME} only (copy the version folder here first, e.g. `gcloud storage cp -r`)"
            )
    return resolve_model_dir(
        args.model_dir, None if args.model_dir else args.serving_root, args.model_name, args.version
    )


def load_local_model(args: argparse.Namespace, max_batch: int | None = None):
    """Loads the local model the options choose (see `local_model_folder`)."""
    from serving.local import LocalModel
    from serving.payloads import MAX_BATCH

    return LocalModel(local_model_folder(args), max_batch=max_batch or MAX_BATCH)


def make_backend(args: argparse.Namespace) -> Callable:
    """Returns a function `predict(payload, signature) -> Predictions` for the chosen backend."""
    if args.backend == "rest":
        from serving import rest

        client = rest.RestClient(
            args.host, args.port or rest.DEFAULT_PORT, args.model_name, args.version, args.timeout
        )
        return lambda payload, signature: client.predict(payload, signature, args.format)
    if args.backend == "grpc":
        from serving import grpc_client

        client = grpc_client.GrpcClient(
            args.host, args.port or grpc_client.DEFAULT_PORT, args.model_name, args.version, args.timeout
        )
        return client.predict
    return load_local_model(args, args.max_batch).predict
