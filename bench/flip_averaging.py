"""Test-time flip averaging on finished runs' models: eval (decision) and test accuracy with and without it.

Run as `python -m bench.flip_averaging --root RUN_ROOT [--root RUN_ROOT ...]` after pipeline runs (for
example the full profile's seeds). Each run's own Trainer export answers through `predict_images` (the
served graph: upscale, scaling, the classifier) on the run's own eval and test splits, as ExampleGen
wrote them (28×28 grey levels), once as given and once mirrored left to right; the flip-averaged
prediction is the arg-max of the two probability vectors' sum. The eval split is what a decision to
bake flip averaging into the export reads; the test split is reported beside it, never used to decide.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import figure, write_results
from bench.plain_keras import _latest_output, load_split, run_details
from pipeline import nodes
from serving.signatures import INPUT_NAMES, PREDICT_IMAGES, PROBABILITIES

# Splits measured, the first being the one a decision reads.
SPLITS = ("eval", "test")
BATCH = 256
GREY_LEVELS = 255.0  # predict_images takes grey levels; load_split gives them scaled to [0, 1]


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
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        plain = predict(chunk)
        mirrored = predict(np.ascontiguousarray(chunk[:, :, ::-1]))
        single.append(plain.argmax(axis=1))
        averaged.append((plain + mirrored).argmax(axis=1))
    return (
        float(np.mean(np.concatenate(single) == labels)),
        float(np.mean(np.concatenate(averaged) == labels)),
    )


def measure_run(root: Path) -> dict:
    """Flip averaging's effect on one run's exported model, per split, with the run's seed and model."""
    import tensorflow as tf
    from tfx.utils import path_utils

    model_dir = path_utils.serving_model_dir(_latest_output(root, nodes.TRAINER, "model"))
    signature = tf.saved_model.load(model_dir).signatures[PREDICT_IMAGES]
    input_name = INPUT_NAMES[PREDICT_IMAGES]

    def predict(images: np.ndarray) -> np.ndarray:
        return signature(**{input_name: tf.constant(images)})[PROBABILITIES].numpy()

    raw_uri = _latest_output(root, nodes.EXAMPLE_GEN, "examples")
    details = run_details(root)
    row: dict = {
        "root": str(root),
        "model_dir": model_dir,
        "seed": details["settings"].get("seed"),
        "family": details["hyperparameters"].get("family"),
        "epochs": details["epochs"],
    }
    for split in SPLITS:
        images, labels = load_split(raw_uri, split)
        single, averaged = flip_averaged_accuracy(predict, images[..., 0] * GREY_LEVELS, labels)
        row[split] = {"images": len(labels), "single": round(single, 4), "flip_averaged": round(averaged, 4)}
    return row


def main(argv: list[str] | None = None) -> None:
    """Measures every run named and writes bench/results/flip_averaging.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", action="append", required=True, help="a finished run's root (repeat)")
    args = parser.parse_args(argv)
    try:
        rows = [measure_run(Path(root)) for root in args.root]
    except FileNotFoundError as missing:  # not a finished run's root: no ML Metadata or no Trainer output
        parser.error(f"{missing}")
    figures = []
    for row in rows:
        for split in SPLITS:
            figures.append(
                figure(
                    f"{split} accuracy flip-averaged, seed {row['seed']} "
                    f"({row['family']}, {row['epochs']} epochs)",
                    row[split]["flip_averaged"],
                    "",
                    baseline=row[split]["single"],
                    baseline_what="the same weights, single view (what is served)",
                )
            )
    gains = [row[SPLITS[0]]["flip_averaged"] - row[SPLITS[0]]["single"] for row in rows]
    notes = (
        f"Decision split {SPLITS[0]}: flip averaging changes accuracy by "
        + ", ".join(f"{gain * 100:+.2f}" for gain in gains)
        + " points across the runs; the test split is reported only. Same weights in each pair, so the "
        "difference is the flip's alone."
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
