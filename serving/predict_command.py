"""The `fashion-tfx predict` subcommand: classify PNG files or dataset images with any backend."""

from __future__ import annotations

import argparse
import sys

BACKENDS = ("local", "rest", "grpc")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options of `fashion-tfx predict` to its subparser."""
    # Constants only: building the parser must not load TensorFlow.
    from fashion_tfx.serving.signatures import (
        DEFAULT_MODEL_NAME,
        MAX_BATCH,
        PREDICT_IMAGES,
        PREDICTION_SIGNATURES,
        REST_FORMATS,
    )

    parser.add_argument("images", nargs="*", metavar="PNG", help="28x28 PNG files to classify")
    parser.add_argument(
        "--index", type=int, action="append", default=[], metavar="N",
        help="an image of the data set by position (repeatable)",
    )  # fmt: skip
    parser.add_argument("--split", choices=("test", "train"), default="test", help="split of --index")
    parser.add_argument("--data-dir", help="folder with the four IDX files (for --index)")
    parser.add_argument("--backend", choices=BACKENDS, default="local", help="where the model runs")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--model-dir", help="local: a SavedModel folder, or a folder of numeric versions")
    where.add_argument(
        "--serving-root",
        default="runs/local/serving",
        help="local: TF Serving's root, holding <model-name>/<version>/ (default: runs/local/serving)",
    )
    parser.add_argument("--model-name", default=DEFAULT_MODEL_NAME, help="served model name")
    parser.add_argument("--version", type=int, help="model version (default: the latest)")
    parser.add_argument("--host", default="localhost", help="rest/grpc: TF Serving's host")
    parser.add_argument("--port", type=int, help="rest/grpc: port (default: 8501 REST, 8500 gRPC)")
    parser.add_argument("--timeout", type=float, default=30.0, help="rest/grpc: seconds per request")
    parser.add_argument(
        "--signature", choices=PREDICTION_SIGNATURES, default=PREDICT_IMAGES, help="signature to call"
    )
    parser.add_argument(
        "--format", choices=REST_FORMATS, default=REST_FORMATS[0],
        help="rest: row (instances) or columnar (inputs) request format",
    )  # fmt: skip
    parser.add_argument("--max-batch", type=int, default=MAX_BATCH, help="largest number of images accepted")


def load_payload(args: argparse.Namespace):
    """Builds the validated payload from the PNG files and dataset indices on the command line."""
    import numpy as np

    from fashion_tfx.serving import payloads

    if not args.images and not args.index:
        raise payloads.PayloadError("empty batch: give PNG files and/or --index N")
    if len(args.images) + len(args.index) > args.max_batch:
        raise payloads.PayloadError(
            f"oversized batch: {len(args.images) + len(args.index)} images, at most {args.max_batch}"
        )
    parts, names, labels = [], [], []
    if args.images:
        images, file_names = payloads.load_png_files(args.images)
        parts.append(images)
        names += file_names
        labels += [None] * len(file_names)
    if args.index:
        images, index_names, index_labels = payloads.load_dataset_indices(
            args.data_dir, args.split, args.index
        )
        parts.append(images)
        names += index_names
        labels += index_labels
    return payloads.make_payload(np.concatenate(parts), names, labels, max_batch=args.max_batch)


def make_backend(args: argparse.Namespace):
    """Returns an object with `predict(payload, signature)` for the chosen backend."""
    if args.backend == "rest":
        from fashion_tfx.serving import rest

        client = rest.RestClient(
            args.host, args.port or rest.DEFAULT_PORT, args.model_name, args.version, args.timeout
        )
        return lambda payload, signature: client.predict(payload, signature, args.format)
    if args.backend == "grpc":
        from fashion_tfx.serving import grpc_client

        client = grpc_client.GrpcClient(
            args.host, args.port or grpc_client.DEFAULT_PORT, args.model_name, args.version, args.timeout
        )
        return client.predict
    from fashion_tfx.serving.local import LocalModel, resolve_model_dir

    path = resolve_model_dir(
        args.model_dir, None if args.model_dir else args.serving_root, args.model_name, args.version
    )
    return LocalModel(path, max_batch=args.max_batch).predict


def format_predictions(payload, predictions, k: int = 3) -> str:
    """Renders one line per input: its name, the predicted class and the top-k probabilities."""
    from fashion_tfx.data.fashion_mnist import CLASS_NAMES

    lines = []
    for i, name in enumerate(payload.names):
        top = "  ".join(f"{cls} {p:.3f}" for cls, p in predictions.top(i, k))
        truth = "" if payload.labels[i] is None else f" (true: {CLASS_NAMES[payload.labels[i]]})"
        lines.append(f"{name}{truth}: {predictions.class_name[i]}  |  {top}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Runs `fashion-tfx predict`: exit code 2 for bad input, 1 when the model or server fails."""
    from fashion_tfx.data.fashion_mnist import DatasetError
    from fashion_tfx.serving.payloads import PayloadError
    from fashion_tfx.serving.push import ServingRootError
    from fashion_tfx.serving.signatures import ServingError

    try:
        if args.max_batch < 1:
            raise PayloadError(f"--max-batch must be at least 1, got {args.max_batch}")
        payload = load_payload(args)
        predict = make_backend(args)
        predictions = predict(payload, args.signature)
    except (PayloadError, ServingRootError, DatasetError) as err:
        print(f"fashion-tfx: error: {err}", file=sys.stderr)
        return 2
    except ServingError as err:  # the input was fine; the model or server failed
        print(f"fashion-tfx: error: {err}", file=sys.stderr)
        return 1
    print(f"# {args.backend} backend, signature {args.signature}", file=sys.stderr)
    print(format_predictions(payload, predictions))
    return 0
