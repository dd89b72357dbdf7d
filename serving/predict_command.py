"""The `fashion-tfx predict` subcommand: classify PNG files, folders, TFRecord files or data set images."""

from __future__ import annotations

import argparse
import sys

from serving.argument_types import ascii_int, host_name, port_number, positive_seconds
from serving.backends import BACKENDS
from serving.options import add_batch_arguments, add_model_arguments


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
    parser.add_argument("--host", type=host_name, default="localhost", help="rest/grpc: TF Serving's host")
    parser.add_argument(
        "--port", type=port_number, help="rest/grpc: port, 1-65535 (default: 8501 REST, 8500 gRPC)"
    )
    parser.add_argument(
        "--timeout", type=positive_seconds, default=30.0,
        help="rest/grpc: seconds for the whole request, answer included",
    )  # fmt: skip
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


def run_batch(args: argparse.Namespace, sources) -> int:
    """Streams predictions over the inputs into CSV or JSON Lines; returns the exit code."""
    import numpy as np

    from serving import batch as streaming
    from serving import payloads
    from serving.backends import make_backend
    from serving.exit_codes import printable
    from serving.streaming import stream_batches
    from serving.writers import PredictionWriter, output_format

    if args.index:
        raise payloads.PayloadError("--index cannot be combined with folders, TFRecord files or --output")
    form = output_format(args)
    to_stdout = args.output in (None, "-")
    output = None if to_stdout else streaming.AtomicOutput(args.output)
    predict = make_backend(args)
    stream = sys.stdout if to_stdout else output.open()
    try:
        writer = PredictionWriter(stream, form)

        def on_batch(items):
            names = [item.id for item in items]
            payload = payloads.make_payload(
                np.stack([item.image for item in items]), names, max_batch=args.max_batch
            )
            writer.write(names, predict(payload, args.signature))

        with streaming.output_failures(args.output):
            done, skipped = stream_batches(args, sources, on_batch)
            if done == 0:
                raise payloads.PayloadError(f"no usable image among the inputs ({skipped} skipped)")
            if output is not None:
                output.commit()
    except BaseException:
        if output is not None:
            output.discard()
        raise
    where = "stdout" if to_stdout else printable(args.output)
    print(
        f"fashion-tfx: {done} images predicted ({args.backend} backend, signature {args.signature}) "
        f"into {where} as {form}; {skipped} skipped" + (" (listed above)" if skipped else ""),
        file=sys.stderr,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Runs `fashion-tfx predict`: exit code 2 for bad input, 1 when the model or server fails."""
    from serving.backends import make_backend
    from serving.exit_codes import failures, report, user_errors
    from serving.streaming import check_batch_arguments, check_sources, is_batch_mode
    from serving.writers import format_predictions

    try:
        check_batch_arguments(args)
        sources = check_sources(args.images)
        if is_batch_mode(args, sources):
            return run_batch(args, sources)
        payload = load_payload(args)
        predictions = make_backend(args)(payload, args.signature)
    except (*user_errors(), *failures()) as err:
        return report(err)
    print(f"# {args.backend} backend, signature {args.signature}", file=sys.stderr)
    print(format_predictions(payload, predictions))
    return 0
