"""The options `predict`, `embed` and `similar` share: which model to load, and how to stream inputs."""

from __future__ import annotations

import argparse

from serving.argument_types import ascii_int, path_text, version_number

DEFAULT_BATCH_SIZE = 64
OUTPUT_FORMATS = ("csv", "jsonl")
# `similar`'s budgets, here so that building its parser loads no catalogue code (nor TensorFlow).
MAX_NEIGHBOURS = 100  # -k
MAX_GRID_PANELS = 16  # neighbours drawn in the grid (the first ones when -k is larger)


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
    where.add_argument(
        "--model-dir", type=path_text, help=f"{scope}a SavedModel folder, or a folder of numeric versions"
    )
    where.add_argument(
        "--serving-root",
        type=path_text,
        default=default_serving_root(),
        help=f"{scope}TF Serving's root, holding <model-name>/<version>/ (default: %(default)s)",
    )
    parser.add_argument("--model-name", default=DEFAULT_MODEL_NAME, help="served model name")
    parser.add_argument("--version", type=version_number, help="model version (default: the latest)")


def add_batch_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """Adds the options of streaming over folders and TFRecord files (shared by `predict` and `embed`)."""
    from serving.signatures import MAX_BATCH

    cap = "at most --max-batch" if what == "predictions" else f"at most {MAX_BATCH}"
    parser.add_argument(
        "--batch-size", type=ascii_int,
        help=f"images per request when streaming folders or TFRecord files "
        f"(default: {DEFAULT_BATCH_SIZE}, {cap})",
    )  # fmt: skip
    parser.add_argument(
        "--strict", action="store_true",
        help="stop at the first unusable file or example (default: list it, skip it, count it)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    if what == "predictions":
        parser.add_argument(
            "--output", metavar="FILE", type=path_text,
            help="write predictions as CSV or JSON Lines (by extension: .csv, .jsonl); '-' for stdout",
        )  # fmt: skip
        parser.add_argument(
            "--output-format",
            choices=OUTPUT_FORMATS,
            help="csv or jsonl (default: from --output's extension)",
        )
