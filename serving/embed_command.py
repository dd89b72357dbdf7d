"""The `fashion-tfx embed` and `fashion-tfx similar` subcommands: embed a catalogue, find neighbours."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from serving.argument_types import ascii_int, path_text
from serving.options import MAX_GRID_PANELS, MAX_NEIGHBOURS, add_batch_arguments, add_model_arguments


def add_embed_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options of `fashion-tfx embed`."""
    parser.add_argument(
        "images", nargs="+", metavar="INPUT",
        help="28x28 PNG files, folders of PNGs, or TFRecord files of tf.Examples",
    )  # fmt: skip
    parser.add_argument(
        "--output", required=True, metavar="FILE", type=path_text,
        help="FILE.parquet (a catalogue for `similar`: ids, classes, pictures, embeddings) or FILE.npy "
        "(embeddings only; ids go to FILE.ids.txt)",
    )  # fmt: skip
    add_model_arguments(parser)
    add_batch_arguments(parser, "embeddings")


def add_similar_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options of `fashion-tfx similar`."""
    parser.add_argument("image", metavar="IMAGE", type=path_text, help="a 28x28 PNG file")
    parser.add_argument(
        "--index", required=True, metavar="FILE", type=path_text, help="a catalogue from `fashion-tfx embed`"
    )
    parser.add_argument(
        "-k", type=ascii_int, default=5, help=f"how many neighbours, 1-{MAX_NEIGHBOURS} (default: 5)"
    )
    parser.add_argument(
        "--grid", metavar="PNG", type=path_text,
        help=f"picture of the query and its nearest {MAX_GRID_PANELS} neighbours at most "
        "(default: IMAGE-NAME-similar.png here)",
    )  # fmt: skip
    add_model_arguments(parser)


def _load_model(args: argparse.Namespace):
    from serving.backends import load_local_model
    from serving.signatures import EMBED

    model = load_local_model(args)
    model.signature(EMBED)  # a model without `embed` is refused before any work
    return model


def embed_images(model, images):
    """Calls the `embed` signature on uint8 [N, 28, 28] images; returns their embeddings float32 [N, D]."""
    from serving.payloads import validate_batch
    from serving.signatures import EMBED, EMBEDDING, INPUT_NAMES

    batch = validate_batch(images, max_batch=len(images))
    return model.call(EMBED, {INPUT_NAMES[EMBED]: batch})[EMBEDDING]


def run_embed(args: argparse.Namespace) -> int:
    """Runs `fashion-tfx embed`: exit 2 for bad input, 1 when the model fails or writing fails."""
    import numpy as np

    from serving import catalogue
    from serving.batch import output_failures
    from serving.exit_codes import failures, printable, report, user_errors
    from serving.payloads import PayloadError
    from serving.signatures import MAX_BATCH
    from serving.streaming import check_batch_arguments, check_sources, stream_batches

    args.max_batch = MAX_BATCH  # embed has no --max-batch: the cap is the contract's
    writer = None
    try:
        check_batch_arguments(args, cap_option=None)
        catalogue.embedding_format(args.output)
        sources = check_sources(args.images)
        model = _load_model(args)
        with output_failures(args.output):
            writer = catalogue.EmbeddingWriter(args.output, str(model.path))

            def on_batch(items):
                writer.write(items, embed_images(model, np.stack([item.image for item in items])))

            done, skipped = stream_batches(args, sources, on_batch)
            if done == 0:
                raise PayloadError(f"no usable image among the inputs ({skipped} skipped)")
            writer.commit()
    except (*user_errors(), *failures(), KeyboardInterrupt) as err:
        if writer is not None:
            writer.abort()
        if isinstance(err, KeyboardInterrupt):
            raise
        return report(err)
    print(
        f"fashion-tfx: {done} embeddings of width {writer.width} from {printable(str(model.path))} into "
        f"{printable(args.output)}; {skipped} skipped" + (" (listed above)" if skipped else ""),
        file=sys.stderr,
    )
    return 0


def run_similar(args: argparse.Namespace) -> int:
    """Runs `fashion-tfx similar`: prints the k nearest catalogue items and saves the picture grid."""
    from serving import catalogue
    from serving.batch import AtomicOutput, output_failures
    from serving.exit_codes import failures, printable, report, user_errors
    from serving.payloads import PayloadError, load_png_file
    from serving.signatures import INPUT_NAMES, PREDICT_IMAGES, Predictions

    grid = args.grid or f"{Path(args.image).name.rsplit('.', 1)[0]}-similar.png"
    try:
        if not 1 <= args.k <= MAX_NEIGHBOURS:
            raise PayloadError(f"-k must lie in 1..{MAX_NEIGHBOURS}, got {args.k}")
        if not grid.lower().endswith(".png"):
            raise PayloadError(f"{grid}: the grid picture must be a .png file")
        image = load_png_file(args.image)
        catalogue.read_index(args.index)  # a bad index is refused before the model loads
        output = AtomicOutput(grid, "wb")  # so is a grid that cannot be written
        model = _load_model(args)
        query = embed_images(model, image[None])[0]
        neighbours, left_out = catalogue.nearest(args.index, query, args.k, str(model.path))
        predicted = Predictions.from_outputs(
            model.call(PREDICT_IMAGES, {INPUT_NAMES[PREDICT_IMAGES]: image[None].astype("float32")}),
            str(model.path),
        )
        try:
            with output_failures(grid):
                catalogue.draw_grid(image, f"model: {predicted.class_name[0]}", neighbours, output.partial)
        except BaseException:
            output.discard()
            raise
        output.commit()
    except (*user_errors(), *failures()) as err:
        return report(err)
    if left_out:
        print(
            f"fashion-tfx: warning: {left_out} items of {printable(args.index)} have NaN, infinite or zero "
            "embeddings and were left out",
            file=sys.stderr,
        )
    where = f"{len(neighbours)} nearest in {printable(args.index)}"
    print(f"# {printable(args.image)} (model: {predicted.class_name[0]}): {where}")
    for n in neighbours:
        print(f"{n.rank}\t{n.similarity:.4f}\t{catalogue.label_name(n.label)}\t{printable(n.id)}")
    if len(neighbours) > MAX_GRID_PANELS:
        print(f"# grid: {printable(grid)} (the nearest {MAX_GRID_PANELS})", file=sys.stderr)
    else:
        print(f"# grid: {printable(grid)}", file=sys.stderr)
    return 0
