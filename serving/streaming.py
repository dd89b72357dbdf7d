"""Streaming many inputs through a model in batches, for `predict` and `embed`: checks, batches, skips."""

from __future__ import annotations

import argparse
import sys

from serving.exit_codes import printable
from serving.options import DEFAULT_BATCH_SIZE


def check_batch_arguments(args: argparse.Namespace, cap_option: str | None = "--max-batch") -> None:
    """Checks the streaming options and fills in the default `--batch-size`.

    Args:
        args: the parsed options (`max_batch`, `batch_size`).
        cap_option: the option that sets `args.max_batch`, named in messages; None when the command
            has no such option (`embed`) and the cap is fixed.

    Raises:
        PayloadError: a batch size outside 1..the cap.
    """
    from serving.payloads import PayloadError

    if args.max_batch < 1:
        raise PayloadError(f"{cap_option} must be at least 1, got {args.max_batch}")
    if args.batch_size is None:
        args.batch_size = min(DEFAULT_BATCH_SIZE, args.max_batch)
    if not 1 <= args.batch_size <= args.max_batch:
        cap = f" ({cap_option})" if cap_option else ""
        raise PayloadError(f"--batch-size must lie in 1..{args.max_batch}{cap}, got {args.batch_size}")


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
    return bool(getattr(args, "output", None) or getattr(args, "output_format", None)) or any(
        s.kind != "png" for s in sources
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
                    progress.write(f"fashion-tfx: skipped: {printable(item.error)}", file=sys.stderr)
                    skipped += 1
            if good:
                on_batch(good)
                done += len(good)
            progress.update(len(items))
    return done, skipped
