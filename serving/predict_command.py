"""The `fashion-tfx predict` subcommand: classify PNG files, folders, TFRecord files or data set images."""

from __future__ import annotations

import argparse
import math
import re
import sys

BACKENDS = ("local", "rest", "grpc")
OUTPUT_FORMATS = ("csv", "jsonl")
DEFAULT_BATCH_SIZE = 64
_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)


def ascii_int(text: str) -> int:
    """An argparse type: a plain ASCII decimal integer.

    `int()` also reads other scripts' digits ('١٢' is 12) and surrounding spaces; a number on the
    command line is refused unless it is written in ASCII digits.
    """
    if not _ASCII_INTEGER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a plain decimal number: {text!r}")
    return int(text)


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above zero (NaN, inf, 0 and negatives are refused)."""
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds above 0, got {text!r}")
    return value


def default_serving_root() -> str:
    """TF Serving's root of the default run (`<default run root>/serving`), whatever the current folder."""
    from pipeline.config import default_root

    return str(default_root() / "serving")


def add_model_arguments(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """Adds the options that choose the model: a folder, or a serving root, name and version.

    Args:
        parser: the subcommand's parser (predict, embed, similar).
        scope: a prefix for the help texts, e.g. "local: " where other backends ignore the options.
    """
    from serving.signatures import DEFAULT_MODEL_NAME

    where = parser.add_mutually_exclusive_group()
    where.add_argument("--model-dir", help=f"{scope}a SavedModel folder, or a folder of numeric versions")
    where.add_argument(
        "--serving-root",
        default=default_serving_root(),
        help=f"{scope}TF Serving's root, holding <model-name>/<version>/ (default: %(default)s)",
    )
    parser.add_argument("--model-name", default=DEFAULT_MODEL_NAME, help="served model name")
    parser.add_argument("--version", type=ascii_int, help="model version (default: the latest)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options of `fashion-tfx predict` to its subparser."""
    # Constants only: building the parser must not load TensorFlow.
    from serving.signatures import (
        MAX_BATCH,
        PREDICT_IMAGES,
        PREDICTION_SIGNATURES,
        REST_FORMATS,
    )

    parser.add_argument(
        "images", nargs="*", metavar="INPUT",
        help="28x28 PNG files, folders of PNGs, or TFRecord files of tf.Examples (.tfrecord[.gz], .gz)",
    )  # fmt: skip
    parser.add_argument(
        "--index", type=ascii_int, action="append", default=[], metavar="N",
        help="an image of the data set by position (repeatable)",
    )  # fmt: skip
    parser.add_argument("--split", choices=("test", "train"), default="test", help="split of --index")
    parser.add_argument("--data-dir", help="folder with the four IDX files (for --index)")
    parser.add_argument("--backend", choices=BACKENDS, default="local", help="where the model runs")
    add_model_arguments(parser, scope="local: ")
    parser.add_argument("--host", default="localhost", help="rest/grpc: TF Serving's host")
    parser.add_argument("--port", type=ascii_int, help="rest/grpc: port (default: 8501 REST, 8500 gRPC)")
    parser.add_argument(
        "--timeout", type=positive_seconds, default=30.0, help="rest/grpc: seconds per request"
    )
    parser.add_argument(
        "--signature", choices=PREDICTION_SIGNATURES, default=PREDICT_IMAGES, help="signature to call"
    )
    parser.add_argument(
        "--format", choices=REST_FORMATS, default=REST_FORMATS[0],
        help="rest: row (instances) or columnar (inputs) request format",
    )  # fmt: skip
    parser.add_argument(
        "--max-batch", type=ascii_int, default=MAX_BATCH, help="largest number of images accepted"
    )
    add_batch_arguments(parser, "predictions")


def add_batch_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """Adds the options of streaming over folders and TFRecord files (shared with `embed`)."""
    parser.add_argument(
        "--batch-size", type=ascii_int,
        help=f"images per request when streaming folders or TFRecord files (default: {DEFAULT_BATCH_SIZE}, "
        "at most --max-batch)",
    )  # fmt: skip
    parser.add_argument(
        "--strict", action="store_true",
        help="stop at the first unusable file or example (default: list it, skip it, count it)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    if what == "predictions":
        parser.add_argument(
            "--output", metavar="FILE",
            help="write predictions as CSV or JSON Lines (by extension: .csv, .jsonl); '-' for stdout",
        )  # fmt: skip
        parser.add_argument(
            "--output-format",
            choices=OUTPUT_FORMATS,
            help="csv or jsonl (default: from --output's extension)",
        )


def load_payload(args: argparse.Namespace):
    """Builds the validated payload from the PNG files and dataset indices on the command line."""
    import numpy as np

    from serving import payloads

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
    from serving.local import LocalModel, resolve_model_dir

    path = resolve_model_dir(
        args.model_dir, None if args.model_dir else args.serving_root, args.model_name, args.version
    )
    return LocalModel(path, max_batch=args.max_batch).predict


def format_predictions(payload, predictions, k: int = 3) -> str:
    """Renders one line per input: its name, the predicted class and the top-k probabilities."""
    from data.classes import CLASS_NAMES

    lines = []
    for i, name in enumerate(payload.names):
        top = "  ".join(f"{cls} {p:.3f}" for cls, p in predictions.top(i, k))
        truth = "" if payload.labels[i] is None else f" (true: {CLASS_NAMES[payload.labels[i]]})"
        lines.append(f"{name}{truth}: {predictions.class_name[i]}  |  {top}")
    return "\n".join(lines)


def output_format(args: argparse.Namespace) -> str:
    """The output format: `--output-format`, else from `--output`'s extension (CSV by default)."""
    if args.output_format:
        return args.output_format
    output = (args.output or "").lower()
    return "jsonl" if output.endswith((".jsonl", ".json", ".ndjson")) else "csv"


class PredictionWriter:
    """Writes prediction rows as CSV (id, class, one probability column per class) or JSON Lines."""

    def __init__(self, stream, form: str):
        import csv

        from data.classes import CLASS_NAMES

        self._stream = stream
        self._form = form
        self._classes = CLASS_NAMES
        if form == "csv":
            self._csv = csv.writer(stream, lineterminator="\n")
            self._csv.writerow(["id", "class", *CLASS_NAMES])

    def write(self, ids, predictions) -> None:
        """Writes one row per input of a batch."""
        import json

        for i, item_id in enumerate(ids):
            probabilities = [round(float(p), 6) for p in predictions.probabilities[i]]
            if self._form == "csv":
                self._csv.writerow([item_id, predictions.class_name[i], *probabilities])
            else:
                row = {
                    "id": item_id,
                    "class": predictions.class_name[i],
                    "probabilities": dict(zip(self._classes, probabilities, strict=True)),
                }
                self._stream.write(json.dumps(row) + "\n")


def check_batch_arguments(args: argparse.Namespace) -> None:
    """Checks the streaming options.

    Raises:
        PayloadError: a batch size outside 1..--max-batch.
    """
    from serving.payloads import PayloadError

    if args.max_batch < 1:
        raise PayloadError(f"--max-batch must be at least 1, got {args.max_batch}")
    if args.batch_size is None:
        args.batch_size = min(DEFAULT_BATCH_SIZE, args.max_batch)
    if not 1 <= args.batch_size <= args.max_batch:
        raise PayloadError(
            f"--batch-size must lie in 1..{args.max_batch} (--max-batch), got {args.batch_size}"
        )


def stream_batches(args: argparse.Namespace, sources, on_batch) -> tuple[int, int]:
    """Streams the inputs in batches through `on_batch(items)`, listing and counting unusable ones.

    Returns:
        (images handed to `on_batch`, items skipped).

    Raises:
        PayloadError: with `--strict`, the first unusable item; or a damaged TFRecord file.
    """
    from tqdm import tqdm

    from serving import batch as streaming
    from serving.payloads import PayloadError

    done = skipped = 0
    progress = tqdm(
        total=streaming.count_items(sources),
        unit="img",
        file=sys.stderr,
        disable=True if args.no_progress else None,  # None: only on a terminal
        dynamic_ncols=True,
    )
    with progress:
        for items in streaming.batches(streaming.iter_items(sources), args.batch_size):
            good = [item for item in items if item.error is None]
            for item in items:
                if item.error is not None:
                    if args.strict:
                        raise PayloadError(f"{item.error} (--strict)")
                    progress.write(f"fashion-tfx: skipped: {item.error}", file=sys.stderr)
                    skipped += 1
            if good:
                on_batch(good)
                done += len(good)
            progress.update(len(items))
    return done, skipped


def check_sources(paths) -> list:
    """Classifies the inputs; a TFRecord input must be a regular file.

    Raises:
        PayloadError: a TFRecord input that is missing or not a regular file.
    """
    import os

    from serving import batch as streaming
    from serving.payloads import PayloadError

    sources = [streaming.classify_input(path) for path in paths]
    for source in sources:
        if source.kind == "tfrecord" and not os.path.isfile(source.path):
            raise PayloadError(f"{source.path}: not a regular file (expected a TFRecord file of tf.Examples)")
    return sources


def is_batch_mode(args: argparse.Namespace, sources) -> bool:
    """Streaming (tabular output) when a folder or TFRecord file is given, or an output file or format."""
    return bool(args.output or args.output_format) or any(s.kind != "png" for s in sources)


def run_batch(args: argparse.Namespace, sources) -> int:
    """Streams predictions over the inputs into CSV or JSON Lines; returns the exit code."""
    import numpy as np

    from serving import batch as streaming
    from serving import payloads

    if args.index:
        raise payloads.PayloadError("--index cannot be combined with folders, TFRecord files or --output")
    form = output_format(args)
    predict = make_backend(args)
    to_stdout = args.output in (None, "-")
    output = None if to_stdout else streaming.AtomicOutput(args.output)
    stream = sys.stdout if to_stdout else output.open()
    try:
        writer = PredictionWriter(stream, form)

        def on_batch(items):
            names = [item.id for item in items]
            payload = payloads.make_payload(
                np.stack([item.image for item in items]), names, max_batch=args.max_batch
            )
            writer.write(names, predict(payload, args.signature))

        done, skipped = stream_batches(args, sources, on_batch)
        if done == 0:
            raise payloads.PayloadError(f"no usable image among the inputs ({skipped} skipped)")
    except BaseException:
        if output is not None:
            output.discard()
        raise
    if output is not None:
        output.commit()
    where = "stdout" if to_stdout else args.output
    print(
        f"fashion-tfx: {done} images predicted ({args.backend} backend, signature {args.signature}) "
        f"into {where} as {form}; {skipped} skipped" + (" (listed above)" if skipped else ""),
        file=sys.stderr,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Runs `fashion-tfx predict`: exit code 2 for bad input, 1 when the model or server fails."""
    from data.fashion_mnist import DatasetError
    from serving.payloads import PayloadError
    from serving.push import ServingRootError
    from serving.signatures import ServingError

    try:
        check_batch_arguments(args)
        sources = check_sources(args.images)
        if is_batch_mode(args, sources):
            return run_batch(args, sources)
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
