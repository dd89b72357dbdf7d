"""The "TFX tax" baseline: the Trainer's model trained by a plain Keras script on the run's own data.

Run as `python -m bench.plain_keras --root RUN_ROOT` after a pipeline run (`bench.pipeline_cost`
imports `train_plain`). "The same" means, and is limited to:
- the same model: the hyper-parameters and settings the run's Trainer wrote beside its history
  (`hyperparameters.json` in its ModelRun artifact), built by the same `build_model`;
- the same data: the run's upscaled train/eval/test examples (ImageUpscaler output), decoded once
  into NumPy and scaled to [0, 1] (what the Transform graph computes);
- the same epochs: as many as the Trainer actually ran (early stopping included), same batch size,
  same learning-rate schedule, validating on the eval split every epoch like the Trainer does;
- then one evaluation on the test split, as the Evaluator does.
Not included (so the pipeline's tax counts them): reading the IDX files, statistics, validation,
upscaling, the export with its signatures, the blessing, the push and the serving smoke check.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import time
from pathlib import Path

import numpy as np


def _latest_output(root: Path, node_id: str, key: str) -> str:
    from pipeline.config import METADATA_FILE
    from pipeline.metadata import component_runs

    # Opening a missing store would create an empty one in whatever folder was named.
    if not (root / METADATA_FILE).is_file():
        raise FileNotFoundError(f"no ML Metadata ({METADATA_FILE}) under {root}: not a finished run's root")
    runs = [r for r in component_runs(root / METADATA_FILE) if r.node_id == node_id and r.outputs.get(key)]
    if not runs:
        raise FileNotFoundError(f"no {node_id} output {key!r} in the run under {root}")
    return runs[-1].outputs[key][0][0]


def load_split(examples_uri: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Decodes one split of PNG tf.Examples into float32 images [N, H, W, 1] in [0, 1] and labels."""
    import tensorflow as tf

    files = sorted(glob.glob(os.path.join(examples_uri, f"Split-{split}", "*.gz")))
    images, labels = [], []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy())
        png = example.features.feature["image"].bytes_list.value[0]
        images.append(tf.io.decode_png(png, channels=1).numpy())
        labels.append(example.features.feature["label"].int64_list.value[0])
    return np.stack(images).astype("float32") / 255.0, np.asarray(labels, dtype="int64")


def fixed_hyperparameters(values: dict):
    """Returns keras_tuner.HyperParameters holding `values`, each fixed: what a run trained with."""
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


class RunRecordError(ValueError):
    """A finished run's Trainer record (`hyperparameters.json`, `history.json`) is damaged or incomplete."""


def _read_record(path: Path) -> dict:
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunRecordError(f"{path} is not readable JSON ({error})") from None
    if not isinstance(record, dict):
        raise RunRecordError(f"{path} must hold a JSON object, got {type(record).__name__}")
    return record


def read_run_record(model_run: str | Path) -> dict:
    """Returns what a Trainer's ModelRun folder records: hyper-parameters, settings and epochs run.

    Raises:
        FileNotFoundError: a record file is absent.
        RunRecordError: a record is damaged: not JSON, a part missing, settings that do not validate, or
            a hyper-parameter that the trained family reads missing.
    """
    from models.search_space import search_space
    from models.settings import (
        FAMILIES,
        FLOAT32,
        MIXED_BFLOAT16,
        ConfigError,
        ModelSettings,
        own_hyperparameters,
    )
    from models.trainer import ARITHMETIC, HISTORY_JSON, HYPERPARAMETERS_JSON

    path, history_path = Path(model_run, HYPERPARAMETERS_JSON), Path(model_run, HISTORY_JSON)
    chosen, history = _read_record(path), _read_record(history_path)
    values, settings = chosen.get("values"), chosen.get("settings")
    for name, part in (("values", values), ("settings", settings)):
        if not isinstance(part, dict):
            raise RunRecordError(f"{path}: `{name}` must be a JSON object, got {part!r}")
    try:
        model_settings = ModelSettings.from_custom_config(settings)
    except (ConfigError, TypeError) as error:
        raise RunRecordError(f"{path}: `settings`: {error}") from None
    family = values.get("family")
    if family not in FAMILIES:
        raise RunRecordError(f"{path}: `values`: family must be one of {', '.join(FAMILIES)}, got {family!r}")
    # What the family's model reads; label smoothing is absent from runs older than it (none then).
    needed = own_hyperparameters({**search_space(model_settings).values, "family": family})
    missing = sorted(set(needed) - set(values) - {"label_smoothing"})
    if missing:
        raise RunRecordError(f"{path}: `values` lacks {', '.join(missing)}, which the {family} model reads")
    arithmetic = chosen.get(ARITHMETIC)
    if arithmetic is not None and arithmetic not in (FLOAT32, MIXED_BFLOAT16):
        raise RunRecordError(
            f"{path}: `{ARITHMETIC}` must be {FLOAT32} or {MIXED_BFLOAT16}, got {arithmetic!r}"
        )
    if not isinstance(history.get("loss"), list):
        raise RunRecordError(f"{history_path}: no per-epoch `loss` list")
    return {
        "hyperparameters": values,
        "settings": settings,
        "epochs": len(history["loss"]),
        # What training computed in; None in runs recorded before the Trainer wrote it.
        ARITHMETIC: arithmetic,
    }


def run_details(root: Path) -> dict:
    """Returns what the run's Trainer trained with (`read_run_record`) and where its examples are.

    Raises:
        FileNotFoundError: `root` holds no finished run (no ML Metadata, or no Trainer output).
        RunRecordError: see `read_run_record`.
    """
    from pipeline import nodes

    record = read_run_record(_latest_output(root, nodes.TRAINER, "model_run"))
    return {**record, "examples": _latest_output(root, nodes.UPSCALER, "examples")}


def run_details_or_exit(parser: argparse.ArgumentParser, root: Path) -> dict:
    """`run_details` for a command line: a missing run or a damaged record ends it with status 2."""
    try:
        return run_details(root)
    except (FileNotFoundError, RunRecordError) as error:
        parser.error(str(error))


def train_plain(root: str | Path, timings: dict | None = None) -> float:
    """Trains and tests the run's model with plain Keras; returns the wall seconds of the whole script.

    Args:
        root: the pipeline run's root (ML Metadata and artifacts).
        timings: filled with the per-stage seconds, the epochs and the test accuracy if given.
    """
    started = time.perf_counter()
    import keras

    from models.families import build_model, weight_averaging_callbacks
    from models.settings import ModelSettings
    from models.trainer import learning_rate_schedule

    details = run_details(Path(root))
    settings = ModelSettings.from_custom_config(details["settings"])
    hp = fixed_hyperparameters(details["hyperparameters"])
    data = {split: load_split(details["examples"], split) for split in ("train", "eval", "test")}
    decoded = time.perf_counter()
    keras.utils.set_random_seed(settings.seed)
    model = build_model(hp, settings)
    history = model.fit(
        *data["train"],
        batch_size=hp.get("batch_size"),
        epochs=details["epochs"],
        validation_data=data["eval"],
        callbacks=[
            *weight_averaging_callbacks(settings),
            keras.callbacks.LearningRateScheduler(
                learning_rate_schedule(
                    settings.schedule, hp.get("learning_rate"), settings.train_epochs, settings.warmup_epochs
                )
            ),
        ],
        shuffle=True,
        verbose=2,
    )
    fitted = time.perf_counter()
    _, test_accuracy = model.evaluate(*data["test"], batch_size=256, verbose=0)
    done = time.perf_counter()
    if timings is not None:
        timings.update(
            decode_seconds=round(decoded - started, 1),
            fit_seconds=round(fitted - decoded, 1),
            test_seconds=round(done - fitted, 1),
            epochs=details["epochs"],
            images={split: int(len(labels)) for split, (_, labels) in data.items()},
            hyperparameters=details["hyperparameters"],
            test_accuracy=round(float(test_accuracy), 4),
            final_val_accuracy=round(float(history.history["val_accuracy"][-1]), 4),
        )
    return done - started


def main(argv: list[str] | None = None) -> None:
    """Prints the plain script's seconds and its breakdown for an existing run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="root of a finished pipeline run")
    args = parser.parse_args(argv)
    timings: dict = {}
    try:
        seconds = train_plain(args.root, timings)
    except (FileNotFoundError, RunRecordError) as error:
        parser.error(str(error))
    print(json.dumps({"seconds": round(seconds, 1), **timings}, indent=1))


if __name__ == "__main__":
    main()
