"""Training throughput of the run's chosen model at 128×128 against the same model fed 28×28 images.

Run as `python -m bench.training --root RUN_ROOT` after a pipeline run (e.g. `bench.pipeline_cost`'s).
Both variants train on the same images, held in memory as float32 in [0, 1] (the input pipeline is
left out, so the figure is the model's own cost): the run's upscaled train split, and the same images
at 28×28 from ExampleGen. "The same model fed 28×28" is what the pipeline builds without the
upscaler: the same hyper-parameters with no stem downsampling (`pipeline.model_settings`). Also
times the 2×2 stem, which the `full` profile once searched (its real cost is now measured end to end
by `bench.pipeline_cost --profile full`), and the run's model at each batch size of `--batch-sizes`
(the CPU's matrix units idle at small batches; the choice also changes the accuracy a budget buys,
which `bench.accuracy` measures).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

from bench.common import figure, write_results
from bench.plain_keras import _latest_output, fixed_hyperparameters, load_split, run_details_or_exit
from pipeline import nodes

WARMUP_STEPS = 5


def epoch_rates(hp_values: dict, settings, images, labels, epochs: int) -> list[float]:
    """Trains a fresh model for `epochs` (after a few warm-up steps); returns each epoch's images/s.

    The images reach the model as the Trainer's do, through tf.data (batched, prefetched). On a 2-core
    AMD EPYC without AVX-512 an epoch may run at 0.6× its neighbours' rate, with a core idle much of the
    time (seen with either kernel set, more often when Keras is fed NumPy arrays), so callers time
    several epochs and take all their images over all their seconds (`throughput`).
    """
    import keras
    import tensorflow as tf

    from models.families import build_model

    hp = fixed_hyperparameters(hp_values)
    keras.utils.set_random_seed(settings.seed)
    model = build_model(hp, settings)
    batch = hp.get("batch_size")
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch).prefetch(tf.data.AUTOTUNE)
    seconds: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    # Traces the training step (graph building is not throughput).
    model.fit(dataset.take(WARMUP_STEPS), verbose=0)
    model.fit(dataset, epochs=epochs, verbose=0, callbacks=[EpochTimer()])
    return [len(images) / each for each in seconds]


def throughput(epoch_rates: list[float]) -> float:
    """Returns the images/s of all the epochs together (equal-sized epochs: their rates' harmonic mean),
    which is what a training's wall time follows."""
    return len(epoch_rates) / sum(1.0 / rate for rate in epoch_rates)


def images_per_second(hp_values: dict, settings, images, labels, epochs: int) -> float:
    """Returns the training images/s of `epoch_rates`' epochs together (what a wall time follows)."""
    return throughput(epoch_rates(hp_values, settings, images, labels, epochs))


def main(argv: list[str] | None = None) -> None:
    """Measures and writes bench/results/training.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="root of a finished pipeline run (quick profile)")
    parser.add_argument("--images", type=int, default=3000, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-sizes", default="32,64,128,256", help="comma-separated batch sizes to time")
    args = parser.parse_args(argv)
    from models.settings import ModelSettings

    load_start = os.getloadavg()
    details = run_details_or_exit(parser, Path(args.root))
    settings = ModelSettings.from_custom_config(details["settings"])
    values = details["hyperparameters"]
    big, labels = load_split(details["examples"], "train")
    small, small_labels = load_split(_latest_output(Path(args.root), nodes.EXAMPLE_GEN, "examples"), "train")
    # ExampleGen's and the upscaler's train splits hold the same images; check before comparing.
    same_images = sorted(small_labels.tolist()) == sorted(labels.tolist())
    big, labels = big[: args.images], labels[: args.images]
    small, small_labels = small[: args.images], small_labels[: args.images]

    at_128 = images_per_second(values, settings, big, labels, args.epochs)
    settings_28 = dataclasses.replace(settings, image_size=28, stems=(1,), upscale=False)
    at_28 = images_per_second({**values, "stem": 1}, settings_28, small, small_labels, args.epochs)
    stem2 = images_per_second(
        {**values, "stem": 2}, dataclasses.replace(settings, stems=(2,)), big, labels, 1
    )

    by_batch = {
        size: images_per_second({**values, "batch_size": size}, settings, big, labels, args.epochs)
        for size in (int(b) for b in args.batch_sizes.split(","))
    }
    chosen = values["batch_size"]
    figures = [
        figure(
            f"training throughput of the run's model at batch {size}",
            round(rate, 1),
            "images/s",
            baseline=round(by_batch[chosen], 1) if chosen in by_batch and size != chosen else None,
            baseline_what=f"batch {chosen}, the run's" if chosen in by_batch and size != chosen else "",
        )
        for size, rate in by_batch.items()
    ]
    figures += [
        figure(
            f"training throughput, chosen model at {settings.image_size}×{settings.image_size} "
            f"(stem {values['stem']})",
            round(at_128, 1),
            "images/s",
            baseline=round(at_28, 1),
            baseline_what="same hyper-parameters fed 28×28, no stem (the pipeline without the upscaler)",
        ),
        figure(
            f"training throughput at {settings.image_size}×{settings.image_size}, stem 2",
            round(stem2, 1),
            "images/s",
        ),
    ]
    path = write_results(
        "training",
        figures,
        {
            "reproduce": f".venv/bin/python -m bench.training --root {args.root}",
            "hyperparameters": values,
            "images": len(big),
            "epochs_timed": args.epochs,
            "same_label_counts_28_and_128": same_images,
            "load_average_at_start": load_start,
            "load_average_at_end": os.getloadavg(),
            "notes": (
                "Model-only throughput on in-memory float32 arrays fed through tf.data (no input pipeline "
                "of records), each figure the timed epochs' images over their seconds; same run, same "
                "images, in the training arithmetic the run used (bfloat16 where the CPU has the units)."
            ),
        },
    )
    print(json.dumps(figures, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
