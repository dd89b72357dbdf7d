"""One line per tuning trial and per training epoch, logged where the run's progress display shows them."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import keras

from compat.keras_tuner import hyperband_trials
from models.settings import own_hyperparameters

# The local runner's progress display prints this logger's records on the console (everything else
# the libraries say goes to the run's log file); on Kubeflow they are ordinary lines of the pod's log.
PROGRESS_LOGGER_NAME = "fashion_tfx.progress"
progress_log = logging.getLogger(PROGRESS_LOGGER_NAME)

# Short names for the hyper-parameters a trial line shows, in this order; the rest stay in trials.csv.
SHORT_NAMES = {
    "family": "",
    "stem": "stem",
    "learning_rate": "lr",
    "batch_size": "batch",
    "dropout": "dropout",
    "augment_probability": "augment",
    "cnn_blocks": "blocks",
    "cnn_filters": "filters",
    "fcnn_layers": "layers",
    "fcnn_units": "units",
    "resnet_blocks": "blocks",
    "resnet_width": "width",
}


def format_value(value: Any) -> str:
    """Formats a hyper-parameter value compactly (3e-04, 0.2, 32, cnn)."""
    if isinstance(value, float):
        return f"{value:.0e}" if value and abs(value) < 0.01 else f"{value:g}"
    return str(value)


def format_hyperparameters(values: dict[str, Any]) -> str:
    """Returns the key hyper-parameters of a trial as `cnn stem=4 lr=1e-03 batch=32 …`.

    Another family's parameters (`fcnn_units` for a `cnn`) are left out: that model does not use them.
    """
    own = own_hyperparameters(values)
    parts = []
    for name, short in SHORT_NAMES.items():
        if name in own:
            parts.append(format_value(values[name]) if not short else f"{short}={format_value(values[name])}")
    return " ".join(parts)


class TrialLines:
    """A Keras Tuner mixin that logs one line per finished trial: n/N, hyper-parameters, score, best, time."""

    def on_trial_begin(self, trial) -> None:
        super().on_trial_begin(trial)
        self._trial_started = time.monotonic()

    def on_trial_end(self, trial) -> None:
        super().on_trial_end(trial)
        done = sum(t.status in ("COMPLETED", "INVALID", "FAILED") for t in self.oracle.trials.values())
        total = planned_trials(self.oracle)
        best = self.oracle.get_best_trials(1)
        best_score = best[0].score if best and best[0].score is not None else math.nan
        score = trial.score if trial.score is not None else math.nan
        progress_log.info(
            "  trial %d/%s  %s  %s %.3f  best %.3f  %.0fs",
            done,
            total if total else "?",
            format_hyperparameters(trial.hyperparameters.values),
            self.oracle.objective.name,
            score,
            best_score,
            time.monotonic() - getattr(self, "_trial_started", time.monotonic()),
        )


def planned_trials(oracle) -> int | None:
    """Returns how many trials the search will run: `max_trials`, or Hyperband's brackets added up."""
    if getattr(oracle, "max_trials", None):
        return oracle.max_trials
    return hyperband_trials(oracle)


class EpochLines(keras.callbacks.Callback):
    """Logs one line per training epoch: losses, accuracies, learning rate and time."""

    def __init__(self, epochs: int):
        super().__init__()
        self._epochs = epochs
        self._started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        shown = [
            f"{name} {logs[name]:.3f}"
            for name in ("loss", "accuracy", "val_loss", "val_accuracy")
            if name in logs
        ]
        if "learning_rate" in logs:
            shown.append(f"lr {float(logs['learning_rate']):.1e}")
        progress_log.info(
            "  epoch %d/%d  %s  %.1fs",
            epoch + 1,
            self._epochs,
            "  ".join(shown),
            time.monotonic() - self._started,
        )
