"""Test-time flip averaging on finished runs' models: eval (decision) and test accuracy with and without it.

Run as `python -m bench.flip_averaging --root RUN_ROOT [--root RUN_ROOT ...]` after pipeline runs (for
example the full profile's seeds). Each run's own Trainer export answers through `predict_images` (the
served graph: upscale, scaling, the classifier) on the run's own eval and test splits, as ExampleGen
wrote them (28×28 grey levels), once as given and once mirrored left to right; the flip-averaged
prediction is the arg-max of the two probability vectors' sum. The eval split is what a decision to
bake flip averaging into the export reads; the test split is reported beside it, never used to decide.

A run whose export already averages (`test_time_flip`, the full profile's) answers the same for an image
and its mirror, so its single view comes from the run's classifier rebuilt without the averaging and
given the export's trained weights (matched by name), fed the same upscaled, scaled pixels. Its
flip-averaged figure must then reproduce what the export itself answers; a difference is an error.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import figure, write_results
from bench.plain_keras import RunRecordError, _latest_output, fixed_hyperparameters, load_split, run_details
from pipeline import nodes
from serving.signatures import INPUT_NAMES, PREDICT_IMAGES, PROBABILITIES

# Splits measured, the first being the one a decision reads.
SPLITS = ("eval", "test")
# What a run's export serves (its row's `served`).
SERVES_SINGLE_VIEW = "single view"
SERVES_FLIP_AVERAGE = "flip average"
BATCH = 256
GREY_LEVELS = 255.0  # predict_images takes grey levels; load_split gives them scaled to [0, 1]


def batches(images: np.ndarray, batch: int = BATCH) -> list[np.ndarray]:
    """`images` in consecutive chunks of `batch`."""
    return [images[start : start + batch] for start in range(0, len(images), batch)]


def flip_averaged_accuracy(
    predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, labels: np.ndarray, batch: int = BATCH
) -> tuple[float, float]:
    """Returns (single-view accuracy, flip-averaged accuracy) of `predict` on `images` [N, H, W].

    Args:
        predict: images [n, H, W] -> class probabilities [n, classes].
        images: the images as `predict` takes them.
        labels: their class ids.
        batch: images per call.
    """
    single, averaged = [], []
    for chunk in batches(images, batch):
        plain = predict(chunk)
        mirrored = predict(np.ascontiguousarray(chunk[:, :, ::-1]))
        single.append(plain.argmax(axis=1))
        averaged.append((plain + mirrored).argmax(axis=1))
    return (
        float(np.mean(np.concatenate(single) == labels)),
        float(np.mean(np.concatenate(averaged) == labels)),
    )


# The most a rebuilt single-view model's flip-averaged accuracy may differ from the export's own answers
# (float32 either way; 0.001 is 10 of 10,000 images on a near tie).
REPRODUCE_TOLERANCE = 1e-3


class NotReproducedError(RuntimeError):
    """The classifier rebuilt from an export does not answer as the export does."""


def single_view_predictor(model_dir: str, details: dict) -> Callable[[np.ndarray], np.ndarray]:
    """Returns grey levels [n, 28, 28] -> probabilities of the run's classifier without test-time flipping.

    The classifier is rebuilt from the run's hyper-parameters and settings with `test_time_flip` off
    (its two layers hold no weights) and given the export's variables by name; images are upscaled and
    scaled as the served graph does.

    Raises:
        NotReproducedError: a weight of the rebuilt classifier has no variable of its name and shape in
            the export.
    """
    import dataclasses

    import tensorflow as tf

    from data.resize import upscale_images
    from models.families import build_classifier
    from models.settings import ModelSettings

    settings = ModelSettings.from_custom_config(details["settings"])
    hp = fixed_hyperparameters(details["hyperparameters"])
    classifier = build_classifier(hp, dataclasses.replace(settings, test_time_flip=False))
    exported = {v.name.split(":")[0]: v for v in tf.saved_model.load(model_dir).served_variables}
    unmatched = [
        w.path
        for w in classifier.weights
        if w.path not in exported or tuple(exported[w.path].shape) != tuple(w.shape)
    ]
    if unmatched:
        raise NotReproducedError(
            f"{model_dir}: the export has no variable of the name and shape of {', '.join(unmatched[:3])}"
        )
    for weight in classifier.weights:
        weight.assign(exported[weight.path].numpy())

    def predict(images: np.ndarray) -> np.ndarray:
        grey = np.clip(np.round(images), 0, GREY_LEVELS).astype("uint8")
        upscaled = upscale_images(grey, settings.image_size, settings.interpolation)
        return classifier(upscaled[..., None].astype("float32") / GREY_LEVELS, training=False).numpy()

    return predict


def measure_run(root: Path) -> dict:
    """Flip averaging's effect on one run's exported model, per split, with the run's seed and model.

    Raises:
        NotReproducedError: for an export that averages already, the rebuilt single view's average is not
            what the export answers.
    """
    import tensorflow as tf
    from tfx.utils import path_utils

    model_dir = path_utils.serving_model_dir(_latest_output(root, nodes.TRAINER, "model"))
    signature = tf.saved_model.load(model_dir).signatures[PREDICT_IMAGES]
    input_name = INPUT_NAMES[PREDICT_IMAGES]

    def served(images: np.ndarray) -> np.ndarray:
        return signature(**{input_name: tf.constant(images)})[PROBABILITIES].numpy()

    raw_uri = _latest_output(root, nodes.EXAMPLE_GEN, "examples")
    details = run_details(root)
    averages = bool(details["settings"].get("test_time_flip"))
    predict = single_view_predictor(model_dir, details) if averages else served
    row: dict = {
        "root": str(root),
        "model_dir": model_dir,
        "seed": details["settings"].get("seed"),
        "family": details["hyperparameters"].get("family"),
        "epochs": details["epochs"],
        "served": SERVES_FLIP_AVERAGE if averages else SERVES_SINGLE_VIEW,
    }
    for split in SPLITS:
        images, labels = load_split(raw_uri, split)
        grey = images[..., 0] * GREY_LEVELS
        single, averaged = flip_averaged_accuracy(predict, grey, labels)
        row[split] = {"images": len(labels), "single": round(single, 4), "flip_averaged": round(averaged, 4)}
        if averages:
            answers = np.concatenate([served(chunk).argmax(axis=1) for chunk in batches(grey)])
            answered = float(np.mean(answers == labels))
            row[split]["served"] = round(answered, 4)
            if abs(answered - averaged) > REPRODUCE_TOLERANCE:
                raise NotReproducedError(
                    f"{root}: on the {split} split the export answers {answered:.4f} but the rebuilt "
                    f"classifier's flip average gives {averaged:.4f}"
                )
    return row


def main(argv: list[str] | None = None) -> None:
    """Measures every run named and writes bench/results/flip_averaging.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", action="append", required=True, help="a finished run's root (repeat)")
    args = parser.parse_args(argv)
    try:
        rows = [measure_run(Path(root)) for root in args.root]
    # Not a finished run's root (no ML Metadata or no Trainer output), or its Trainer record is damaged.
    except (FileNotFoundError, RunRecordError) as error:
        parser.error(f"{error}")
    except NotReproducedError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    figures = []
    for row in rows:
        for split in SPLITS:
            figures.append(
                figure(
                    f"{split} accuracy flip-averaged, seed {row['seed']} "
                    f"({row['family']}, {row['epochs']} epochs; its export serves the {row['served']})",
                    row[split]["flip_averaged"],
                    "",
                    baseline=row[split]["single"],
                    baseline_what="the same weights, single view",
                )
            )
    gains = [row[SPLITS[0]]["flip_averaged"] - row[SPLITS[0]]["single"] for row in rows]
    notes = (
        f"Decision split {SPLITS[0]}: flip averaging changes accuracy by "
        + ", ".join(f"{gain * 100:+.2f}" for gain in gains)
        + " points across the runs; the test split is reported only. Same weights in each pair, so the "
        "difference is the flip's alone."
    )
    if any(row["served"] != SERVES_SINGLE_VIEW for row in rows):
        notes += (
            " A run whose export averages chose its restored epoch (early stopping) on the flip-averaged "
            f"{SPLITS[0]} accuracy, so its {SPLITS[0]} gain is biased upward; its test figures are not."
        )
    path = write_results(
        "flip_averaging",
        figures,
        {
            "runs": rows,
            "notes": notes,
            "reproduce": ".venv/bin/python -m bench.flip_averaging --root RUN_ROOT",
        },
    )
    print(json.dumps(rows, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
