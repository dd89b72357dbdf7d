"""The `fashion-tfx embed` and `fashion-tfx similar` subcommands: embed a catalogue, find neighbours."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_embed_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options of `fashion-tfx embed`."""
    from serving.predict_command import add_batch_arguments, add_model_arguments

    parser.add_argument(
        "images", nargs="+", metavar="INPUT",
        help="28x28 PNG files, folders of PNGs, or TFRecord files of tf.Examples",
    )  # fmt: skip
    parser.add_argument(
        "--output", required=True, metavar="FILE",
        help="FILE.parquet (a catalogue for `similar`: ids, classes, pictures, embeddings) or FILE.npy "
        "(embeddings only; ids go to FILE.ids.txt)",
    )  # fmt: skip
    add_model_arguments(parser)
    add_batch_arguments(parser, "embeddings")


def add_similar_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the options of `fashion-tfx similar`."""
    from serving.predict_command import add_model_arguments, ascii_int

    parser.add_argument("image", metavar="IMAGE", help="a 28x28 PNG file")
    parser.add_argument("--index", required=True, metavar="FILE", help="a catalogue from `fashion-tfx embed`")
    parser.add_argument("-k", type=ascii_int, default=5, help="how many neighbours (default: 5)")
    parser.add_argument(
        "--grid",
        metavar="PNG",
        help="picture of the query and its neighbours (default: IMAGE-NAME-similar.png here)",
    )
    add_model_arguments(parser)


def _load_model(args: argparse.Namespace):
    from serving.local import LocalModel, resolve_model_dir
    from serving.signatures import EMBED

    path = resolve_model_dir(
        args.model_dir, None if args.model_dir else args.serving_root, args.model_name, args.version
    )
    model = LocalModel(path)
    model.signature(EMBED)  # a model without `embed` is refused before any work
    return model


def embed_images(model, images):
    """Calls the `embed` signature on uint8 [N, 28, 28] images; returns their embeddings float32 [N, D]."""
    from serving.payloads import validate_batch
    from serving.signatures import EMBED, EMBEDDING, INPUT_NAMES

    batch = validate_batch(images, max_batch=len(images))
    return model.call(EMBED, {INPUT_NAMES[EMBED]: batch})[EMBEDDING]


def _errors():
    from data.fashion_mnist import DatasetError
    from serving.payloads import PayloadError
    from serving.push import ServingRootError
    from serving.signatures import ServingError

    return (PayloadError, ServingRootError, DatasetError), ServingError


def run_embed(args: argparse.Namespace) -> int:
    """Runs `fashion-tfx embed`: exit 2 for bad input, 1 when the model fails."""
    import numpy as np

    from serving import catalogue
    from serving.predict_command import (
        DEFAULT_BATCH_SIZE,
        check_batch_arguments,
        check_sources,
        stream_batches,
    )

    bad_input, model_failed = _errors()
    args.max_batch = max(args.batch_size or DEFAULT_BATCH_SIZE, 1)  # embed has no request cap of its own
    writer = None
    try:
        check_batch_arguments(args)
        catalogue.embedding_format(args.output)
        sources = check_sources(args.images)
        model = _load_model(args)
        writer = catalogue.EmbeddingWriter(args.output, str(model.path))

        def on_batch(items):
            writer.write(items, embed_images(model, np.stack([item.image for item in items])))

        done, skipped = stream_batches(args, sources, on_batch)
        if done == 0:
            raise bad_input[0](f"no usable image among the inputs ({skipped} skipped)")
        writer.commit()
    except (*bad_input, model_failed, KeyboardInterrupt) as err:
        if writer is not None:
            writer.abort()
        if isinstance(err, KeyboardInterrupt):
            raise
        print(f"fashion-tfx: error: {err}", file=sys.stderr)
        return 1 if isinstance(err, model_failed) else 2
    print(
        f"fashion-tfx: {done} embeddings of width {writer.width} from {model.path} into {args.output}; "
        f"{skipped} skipped" + (" (listed above)" if skipped else ""),
        file=sys.stderr,
    )
    return 0


def run_similar(args: argparse.Namespace) -> int:
    """Runs `fashion-tfx similar`: prints the k nearest catalogue items and saves the picture grid."""
    from serving import catalogue
    from serving.batch import AtomicOutput
    from serving.payloads import PayloadError, load_png_file
    from serving.signatures import INPUT_NAMES, PREDICT_IMAGES, Predictions

    bad_input, model_failed = _errors()
    grid = args.grid or f"{Path(args.image).name.rsplit('.', 1)[0]}-similar.png"
    try:
        if args.k < 1:
            raise PayloadError(f"-k must be at least 1, got {args.k}")
        if not grid.lower().endswith(".png"):
            raise PayloadError(f"{grid}: the grid picture must be a .png file")
        image = load_png_file(args.image)
        catalogue.read_index(args.index)  # a bad index is refused before the model loads
        model = _load_model(args)
        query = embed_images(model, image[None])[0]
        neighbours = catalogue.nearest(args.index, query, args.k, str(model.path))
        predicted = Predictions.from_outputs(
            model.call(PREDICT_IMAGES, {INPUT_NAMES[PREDICT_IMAGES]: image[None].astype("float32")}),
            str(model.path),
        )
        output = AtomicOutput(grid, "wb")
        try:
            catalogue.draw_grid(image, f"model: {predicted.class_name[0]}", neighbours, output.partial)
        except BaseException:
            output.discard()
            raise
        output.commit()
    except (*bad_input, model_failed) as err:
        print(f"fashion-tfx: error: {err}", file=sys.stderr)
        return 1 if isinstance(err, model_failed) else 2
    print(f"# {args.image} (model: {predicted.class_name[0]}): {len(neighbours)} nearest in {args.index}")
    for n in neighbours:
        print(f"{n.rank}\t{n.similarity:.4f}\t{catalogue.label_name(n.label)}\t{n.id}")
    print(f"# grid: {grid}", file=sys.stderr)
    return 0
