"""The Trainer's input pipeline: decoding the PNGs once and keeping the pixels, against decoding every epoch.

Run as `python -m bench.input_pipeline --root RUN_ROOT` after a pipeline run at 128×128. On the run's
upscaled train split and Transform graph, it times (1) the input pipeline alone, one pass after a
first (filling) pass, and (2) training the run's model on it for two epochs, each way:
`TransformedBatches(transform_output, image_size)` (the Trainer's: PNGs decoded on the first pass,
uint8 pixels kept in memory, `scale_pixels` per batch) and `TransformedBatches(transform_output)`
(the Transform graph, PNG decoding included, on every batch of every epoch). Same process, same
images, interleaved; the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from bench.common import figure, write_results
from bench.plain_keras import _latest_output, run_details_or_exit
from pipeline import nodes

NOTES = (
    "Ratios are images/s over the baseline's images/s: above 1× the kept pixels are faster. Training "
    "rates include the first epoch, which decodes in both ways."
)


def _pass_seconds(dataset) -> float:
    started = time.perf_counter()
    for _ in dataset:
        pass
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    """Measures and writes bench/results/input_pipeline.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="root of a finished pipeline run at 128×128")
    parser.add_argument("--images", type=int, default=20000, help="training images")
    args = parser.parse_args(argv)
    import keras
    import keras_tuner
    import tensorflow_transform as tft

    from models.families import build_model
    from models.preprocessing import TransformedBatches, read_records
    from models.settings import ModelSettings

    load_start = os.getloadavg()
    root = Path(args.root)
    details = run_details_or_exit(parser, root)
    settings = ModelSettings.from_custom_config(details["settings"])
    transform = tft.TFTransformOutput(_latest_output(root, nodes.TRANSFORM, "transform_graph"))
    records = read_records(os.path.join(details["examples"], "Split-train", "*"), cap=args.images)
    batch = details["hyperparameters"]["batch_size"]
    ways = {
        "decoded once, pixels kept": TransformedBatches(transform, settings.image_size),
        "Transform graph every epoch (PNG decode per batch)": TransformedBatches(transform),
    }
    pipeline_rate, training_rate = {}, {}
    for name, batches in ways.items():
        dataset = batches.dataset(records, batch, shuffle=True, seed=settings.seed)
        _pass_seconds(dataset)  # fills the pixel cache (the first epoch's extra work)
        pipeline_rate[name] = args.images / _pass_seconds(dataset)
    hp = keras_tuner.HyperParameters()
    for key, value in details["hyperparameters"].items():
        hp.Fixed(key, value)
    for name, batches in ways.items():
        keras.utils.set_random_seed(settings.seed)
        model = build_model(hp, settings)
        dataset = batches.dataset(records, batch, shuffle=True, seed=settings.seed)
        model.fit(dataset.take(5), verbose=0)  # traces the step
        started = time.perf_counter()
        model.fit(dataset, epochs=2, verbose=0)
        training_rate[name] = 2 * args.images / (time.perf_counter() - started)
    kept, every = list(ways)
    figures = [
        figure(
            "input pipeline alone, a pass after the first: decoded once, pixels kept",
            round(pipeline_rate[kept]),
            "images/s",
            baseline=round(pipeline_rate[every]),
            baseline_what=every,
        ),
        figure(
            "training the run's model for 2 epochs (the first fills the cache): decoded once, pixels kept",
            round(training_rate[kept], 1),
            "images/s",
            baseline=round(training_rate[every], 1),
            baseline_what=every,
        ),
    ]
    recorded = {
        "reproduce": f".venv/bin/python -m bench.input_pipeline --root {args.root}",
        "images": args.images,
        "batch_size": batch,
        "hyperparameters": details["hyperparameters"],
        "load_average_at_start": load_start,
        "load_average_at_end": os.getloadavg(),
        "notes": NOTES,
    }
    print(json.dumps(figures, indent=2))
    print(f"wrote {write_results('input_pipeline', figures, recorded)}")


if __name__ == "__main__":
    main()
