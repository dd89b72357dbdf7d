"""The TFX Trainer's entry point: train with the best hyper-parameters, record curves, export for serving."""

from __future__ import annotations

import json
import logging
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx

from compat.tensorflow import onednn_enabled
from data.plots import save_png, subplots
from models.console import EpochLines, format_hyperparameters, progress_log
from models.export import export_serving_model
from models.families import (
    build_model,
    embedding_model,
    float32_copy,
    served_base_model,
    weight_averaging_callbacks,
)
from models.preprocessing import TransformedBatches, read_records
from models.resume import EpochCheckpoint, resume_dir
from models.search_space import hyperparameters_for_training
from models.settings import (
    COSINE,
    LINEAR,
    SCHEDULES,
    ModelSettings,
    describe_arithmetic,
    training_policy,
)
from models.tensorboard_views import PROJECTOR_IMAGES, THUMBNAIL_SIDE, write_projector

log = logging.getLogger(__name__)

# What early stopping and the Tuner's objective watch (higher is better).
MONITORED_METRIC = "val_accuracy"
CURVES_PNG = "training_curves.png"
HISTORY_JSON = "history.json"
HYPERPARAMETERS_JSON = "hyperparameters.json"  # the values the Trainer trained with (tuned or defaults)
ARITHMETIC = "arithmetic"  # its key for the arithmetic training ran in (`float32`, `mixed_bfloat16`)
ONEDNN_WORDS = "TensorFlow's oneDNN kernels"  # the Trainer's line: `… on` or `… off`
TRAINING_JSON = "training.json"  # epochs run, wall time, parameter counts, code fingerprint (model card)


def plot_curves(history: dict, path: str, schedule: str = COSINE, averaged: bool = False) -> None:
    """Saves loss, accuracy and the learning rate per epoch as a PNG, marking the restored best epoch.

    Args:
        history: metric name -> per-epoch values (Keras' history), plus `restored_epoch` (1-based), the
            epoch whose weights early stopping restored and the model was exported with, if any.
        path: where the PNG goes (any tf.io.gfile path).
        schedule: the learning rate's decay (`SCHEDULES`), named in its panel's title.
        averaged: the validation figures are the weight average's (`ModelSettings.weight_averaging`).
    """
    from matplotlib.ticker import MaxNLocator

    restored = history.get("restored_epoch")
    fig, axes = subplots(1, 3, figsize=(14, 4))
    for ax, metric in zip(axes[:2], ("loss", "accuracy"), strict=True):
        for prefix, style in (("", "-o"), ("val_", "--s")):
            values = history.get(prefix + metric)
            if values:
                label = (prefix or "train_") + metric + (" (weight average)" if prefix and averaged else "")
                ax.plot(range(1, len(values) + 1), values, style, label=label)
        if restored and history.get("val_" + metric):
            value = history["val_" + metric][restored - 1]
            ax.axvline(restored, color="k", linestyle=":", linewidth=1)
            ax.plot([restored], [value], "*", color="k", markersize=12, label=f"restored (epoch {restored})")
            ax.annotate(
                f"val_{metric} {value:.3f}",
                (restored, value),
                textcoords="offset points",
                xytext=(8, 12 if metric == "accuracy" else -18),
                fontsize=8,
                bbox={"boxstyle": "round", "fc": "white", "alpha": 0.85},
            )
        ax.set_title(metric)
    rates = history.get("learning_rate")
    if rates:
        axes[2].plot(range(1, len(rates) + 1), rates, "-o", color="C2", label="learning rate")
        axes[2].set_yscale("log")
        if restored:
            axes[2].axvline(
                restored, color="k", linestyle=":", linewidth=1, label=f"restored epoch {restored}"
            )
    axes[2].set_title(
        f"learning rate (warm-up, then {schedule} decay)"
        if rates and rates[0] < max(rates)
        else f"learning rate ({schedule} decay)"
    )
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    save_png(fig, path)


def cosine_learning_rate(base: float, epochs: int, warmup: int = 0):
    """Returns a per-epoch schedule: `warmup` epochs rising linearly to `base`, then a half cosine down.

    Measured on the quick profile's 6,000 images: a constant rate plateaus with val accuracy swinging
    ±1.5% between epochs; decaying it lets the last epochs settle. The warm-up keeps SGD's large peak
    rate from throwing freshly initialised weights about.
    """

    def schedule(epoch: int, _lr: float) -> float:
        if epoch < warmup:
            return base * (epoch + 1) / (warmup + 1)
        return base * 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / max(1, epochs - warmup)))

    return schedule


def linear_learning_rate(base: float, epochs: int, warmup: int = 0):
    """Returns a per-epoch schedule: `warmup` epochs rising linearly to `base`, then a straight line down.

    The line would reach zero where the last epoch ends (the rate is set per epoch, so the last epoch
    trains at `base / (epochs - warmup)`): the falling half of a one-cycle schedule, as fast-training
    recipes on CIFAR-10 use; `bench.accuracy` row `resnet: linear to zero` judges it against the cosine.
    """

    def schedule(epoch: int, _lr: float) -> float:
        if epoch < warmup:
            return base * (epoch + 1) / (warmup + 1)
        return base * (epochs - epoch) / max(1, epochs - warmup)

    return schedule


_SCHEDULES = {COSINE: cosine_learning_rate, LINEAR: linear_learning_rate}


def learning_rate_schedule(kind: str, base: float, epochs: int, warmup: int = 0):
    """Returns the per-epoch schedule named `kind` (`models.settings.SCHEDULES`) from `base` over `epochs`.

    Raises:
        ValueError: `kind` is not one of `SCHEDULES`.
    """
    if kind not in _SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {kind!r}")
    return _SCHEDULES[kind](base, epochs, warmup)


def train(
    settings: ModelSettings,
    hyperparameters: dict | None,
    tf_transform_output: tft.TFTransformOutput,
    train_files: list[str],
    eval_files: list[str],
    log_dir: str,
    base_model_dir: str | None = None,
    checkpoint_dir: str | None = None,
) -> tuple[keras.Model, dict[str, list[float]], EpochCheckpoint | None]:
    """Trains with early stopping and TensorBoard logs, resuming from `checkpoint_dir` if it holds one.

    With `settings.train_epochs == 0` the model is built and returned without fitting (untrained).
    The model returned computes in float32 whatever the training precision (see `float32_copy`).

    Returns:
        (the model with its best validation weights restored, the per-epoch history and, under
        `restored_epoch`, the 1-based epoch whose weights were restored, the checkpoint to delete
        once the model is exported).
    """
    hp = hyperparameters_for_training(settings, hyperparameters)
    log.info("hyper-parameters for training: %s", hp.values)
    if hyperparameters and not settings.use_tuned:
        progress_log.info(
            "  training the profile's recipe: the Tuner's trials are recorded (use_tuned is off), not used"
        )
    progress_log.info(
        "  training %s for up to %d epochs (early stopping on val_accuracy, patience %d)",
        format_hyperparameters(hp.values),
        settings.train_epochs,
        settings.patience,
    )
    arithmetic, slow = describe_arithmetic(settings.precision)
    progress_log.info("  %s%s", "WARNING: " if slow else "", arithmetic)
    # Set before TensorFlow started (`pipeline`, or the image's environment); slower off on AVX2 CPUs.
    progress_log.info("  %s %s", ONEDNN_WORDS, "on" if onednn_enabled() else "off")
    keras.utils.set_random_seed(settings.seed)
    model = build_model(hp, settings, base_model_dir=base_model_dir)
    if settings.train_epochs == 0:
        log.warning("train_epochs=0: exporting the initialised model without training it")
        return float32_copy(model, hp, settings, base_model_dir), {}, None
    batches = TransformedBatches(tf_transform_output, settings.image_size)
    batch_size = hp.get("batch_size")
    train_data = batches.dataset(read_records(train_files), batch_size, shuffle=True, seed=settings.seed)
    eval_data = batches.dataset(read_records(eval_files), batch_size, shuffle=False)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor=MONITORED_METRIC,
        patience=settings.patience,
        restore_best_weights=True,
        mode="max",
        # On small data the first epochs' validation scores reflect batch norm's unsettled running
        # statistics (measured: chance for ~5 epochs on 100 images), not the weights.
        start_from_epoch=min(settings.patience, settings.train_epochs - 1),
    )
    averaging = weight_averaging_callbacks(settings)
    checkpoint = EpochCheckpoint(checkpoint_dir, early_stopping, averaging) if checkpoint_dir else None
    start = checkpoint.restore(model) if checkpoint else 0
    if start:
        progress_log.info(
            "  resuming after epoch %d of %d (checkpoint %s)", start, settings.train_epochs, checkpoint_dir
        )
    callbacks = [
        *averaging,  # first: the ones after it (early stopping's best weights) see the average
        early_stopping,
        keras.callbacks.LearningRateScheduler(
            learning_rate_schedule(
                settings.schedule, hp.get("learning_rate"), settings.train_epochs, settings.warmup_epochs
            )
        ),
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"),
        EpochLines(settings.train_epochs),  # after the scheduler, whose rate it reports
    ]
    if checkpoint:
        callbacks.append(checkpoint)  # after early stopping, whose state it saves
    started = time.time()
    if checkpoint and checkpoint.done:
        log.info("a previous attempt finished training; exporting its model")
        history = None
        if checkpoint.restored_best_epoch is not None:
            early_stopping.best_epoch = checkpoint.restored_best_epoch
    else:
        history = model.fit(
            train_data,
            validation_data=eval_data,
            epochs=settings.train_epochs,
            initial_epoch=start,
            callbacks=callbacks,
            verbose=2,
        )
        log.info("trained %d epochs in %.0fs", len(history.epoch), time.time() - started)
    if checkpoint:
        curves: dict = {k: list(v) for k, v in checkpoint.history.items()}
    else:
        curves = {k: [float(v) for v in values] for k, values in history.history.items()}
    if early_stopping.best_weights is not None or (checkpoint and checkpoint.restored_best_epoch is not None):
        # Keras restored the best epoch's weights at the end of training (or the checkpoint did).
        curves["restored_epoch"] = early_stopping.best_epoch + 1
        progress_log.info(
            "  restored the weights of epoch %d (val_accuracy %.3f)",
            curves["restored_epoch"],
            curves[MONITORED_METRIC][early_stopping.best_epoch],
        )
    return float32_copy(model, hp, settings, base_model_dir), curves, checkpoint


def project_embedding(
    model: keras.Model, tf_transform_output: tft.TFTransformOutput, eval_files: list[str], log_dir: str
) -> str:
    """Embeds the first validation images with the trained model, for TensorBoard's projector.

    Returns:
        The projector folder written (see `tensorboard_views.write_projector`).
    """
    embedder = embedding_model(model)
    batches = TransformedBatches(tf_transform_output)
    vectors, labels, thumbnails = [], [], []
    for images, batch_labels in batches.dataset(read_records(eval_files, cap=PROJECTOR_IMAGES), 100, False):
        vectors.append(embedder(images, training=False).numpy())
        labels.append(batch_labels.numpy())
        small = tf.image.resize(images, (THUMBNAIL_SIDE, THUMBNAIL_SIDE), method="area")
        thumbnails.append(
            tf.cast(tf.round(tf.clip_by_value(small, 0.0, 1.0) * 255), tf.uint8).numpy()[..., 0]
        )
    return write_projector(
        np.concatenate(vectors), np.concatenate(labels).reshape(-1), np.concatenate(thumbnails), log_dir
    )


# Called by the TFX Trainer.
def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Trains with the Tuner's best hyper-parameters (or the defaults) and exports the serving model.

    Writes TensorBoard logs, `history.json` and `training_curves.png` into the ModelRun artifact, and
    the SavedModel (see `export`) into the Model artifact.
    """
    settings = ModelSettings.from_custom_config(fn_args.custom_config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    started = time.time()
    base_model_dir = served_base_model(fn_args.base_model)
    # Everything that determines the trained model names its checkpoint (the fingerprint covers the code).
    identity = {
        "custom_config": fn_args.custom_config,
        "hyperparameters": fn_args.hyperparameters,
        "train_files": fn_args.train_files,
        "eval_files": fn_args.eval_files,
        "transform_output": fn_args.transform_output,
        "base_model": base_model_dir,
    }
    model, history, checkpoint = train(
        settings,
        fn_args.hyperparameters,
        tf_transform_output,
        fn_args.train_files,
        fn_args.eval_files,
        log_dir=fn_args.model_run_dir,
        base_model_dir=base_model_dir,
        checkpoint_dir=resume_dir(fn_args.model_run_dir, identity),
    )
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, HISTORY_JSON), "w") as out:
        json.dump(history, out, indent=1)
    hp = hyperparameters_for_training(settings, fn_args.hyperparameters)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, HYPERPARAMETERS_JSON), "w") as out:
        json.dump(
            {
                "values": hp.values,
                "settings": settings.to_custom_config(),
                "source": "tuned" if fn_args.hyperparameters and settings.use_tuned else "defaults",
                # What `precision` resolved to on the CPU that trained (`auto` follows its units).
                ARITHMETIC: training_policy(settings.precision),
            },
            out,
            indent=1,
        )
    record = {
        "epochs": len(history.get("loss", [])),
        "seconds": round(time.time() - started, 1),
        "parameters": int(model.count_params()),
        "trainable_parameters": int(sum(math.prod(w.shape) for w in model.trainable_weights)),
        "code_fingerprint": (fn_args.custom_config or {}).get("code_fingerprint"),
    }
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, TRAINING_JSON), "w") as out:
        json.dump(record, out, indent=1)
    plot_curves(
        history,
        os.path.join(fn_args.model_run_dir, CURVES_PNG),
        schedule=settings.schedule,
        averaged=bool(settings.weight_averaging),
    )
    project_embedding(model, tf_transform_output, fn_args.eval_files, fn_args.model_run_dir)
    export_serving_model(model, tf_transform_output, settings, fn_args.serving_model_dir)
    if checkpoint:
        checkpoint.finished()
