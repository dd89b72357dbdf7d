"""Resuming the Trainer: an epoch checkpoint that a rerun after a crash or preemption continues from.

A killed Trainer execution leaves its output folders behind, and TFX gives the rerun new ones, so the
checkpoint lives beside them, in a folder named after everything that determines the training (the
settings, the hyper-parameters, the input files, the Transform graph and the code fingerprint). A rerun
with the same inputs finds it; any change starts afresh. Files go through `tf.io.gfile`, so a pipeline
root on a bucket works: a preempted Kubeflow pod loses at most the epoch it was in.

Each epoch writes one `.npz` (model and optimizer variables) and then `state.json` naming it, with the
history so far and early stopping's state. An object is whole or absent on a bucket, and `state.json`
is written last, so a kill at any moment leaves the previous consistent state.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import posixpath
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from compat.keras import (
    AverageBetweenEpochs,
    early_stopping_state,
    restore_early_stopping,
    swap_weights_with_average,
)

log = logging.getLogger(__name__)

STATE_JSON = "state.json"
RESUME_FOLDER = "resume"  # beside the Trainer's output folders: <root>/pipeline/Trainer/resume/<key>


def resume_dir(model_run_dir: str, identity: dict[str, Any]) -> str:
    """Returns the checkpoint folder of a training whose inputs are `identity` (any JSON-able values).

    Args:
        model_run_dir: the Trainer execution's ModelRun folder, `<node folder>/model_run/<execution id>`.
        identity: what determines the training's result.
    """
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
    node_dir = posixpath.dirname(posixpath.dirname(model_run_dir.rstrip("/")))
    return posixpath.join(node_dir, RESUME_FOLDER, key)


def _save_arrays(path: str, arrays: list[np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, *arrays)
    with tf.io.gfile.GFile(path, "wb") as out:
        out.write(buffer.getvalue())


def _load_arrays(path: str) -> list[np.ndarray]:
    with tf.io.gfile.GFile(path, "rb") as f:
        data = np.load(io.BytesIO(f.read()))
        return [data[f"arr_{i}"] for i in range(len(data.files))]


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the training state after every epoch and restores it before training resumes.

    Use: `start = checkpoint.restore(model)` before `fit(..., initial_epoch=start)`, with this callback
    after `early_stopping` in the callback list; `finished()` once the model is exported.
    """

    def __init__(
        self,
        directory: str,
        early_stopping: keras.callbacks.EarlyStopping | None = None,
        averaging: Sequence[AverageBetweenEpochs] = (),
    ):
        """Prepares the checkpoint; nothing is read or written until `restore` or an epoch ends.

        Args:
            directory: the checkpoint's folder (`resume_dir`).
            early_stopping: the callback whose state a resumed training restores.
            averaging: the training's `weight_averaging_callbacks`, which say whether the model holds
                the weight average when an epoch is saved.
        """
        super().__init__()
        self.directory = directory
        self.early_stopping = early_stopping
        self.averaging = tuple(averaging)
        self._state: dict[str, Any] = {"epoch": 0, "history": {}, "done": False}
        self._pending_early_stopping: dict[str, Any] | None = None

    @property
    def history(self) -> dict[str, list[float]]:
        """Per-epoch metrics of every finished epoch, across resumptions."""
        return self._state["history"]

    @property
    def done(self) -> bool:
        """Whether a previous attempt finished training (it died later, e.g. while exporting)."""
        return bool(self._state["done"])

    @property
    def restored_best_epoch(self) -> int | None:
        """After `restore` of a finished training: the 0-based epoch whose weights were restored, if any."""
        if self.done and self._state.get("best_weights"):
            return int(self._state["early_stopping"]["best_epoch"])
        return None

    def restore(self, model: keras.Model) -> int:
        """Loads the last saved state into `model` (compiled); returns the epoch to resume from (0: none)."""
        path = posixpath.join(self.directory, STATE_JSON)
        if not tf.io.gfile.exists(path):
            return 0
        with tf.io.gfile.GFile(path) as f:
            state = json.load(f)
        arrays = _load_arrays(posixpath.join(self.directory, state["weights"]))
        weights, optimizer_values = arrays[: state["model_arrays"]], arrays[state["model_arrays"] :]
        model.set_weights(weights)
        model.optimizer.build(model.trainable_variables)
        for variable, value in zip(model.optimizer.variables, optimizer_values, strict=True):
            variable.assign(value)
        if state.get("weights_are_average"):
            # Saved with the average in the model and the raw weights in the optimiser's slots:
            # training resumes from the raw weights, as it would have gone on.
            swap_weights_with_average(model)
        self._state = state
        self._pending_early_stopping = state.get("early_stopping")
        if self.done and state.get("best_weights"):
            model.set_weights(_load_arrays(posixpath.join(self.directory, state["best_weights"])))
        log.info("resuming training from %s after epoch %d", self.directory, state["epoch"])
        return int(state["epoch"])

    def on_train_begin(self, logs=None):
        # After EarlyStopping's own on_train_begin, which resets it.
        pending, stopper = self._pending_early_stopping, self.early_stopping
        if pending is None or stopper is None:
            return
        best_weights = None
        if self._state.get("best_weights"):
            best_weights = _load_arrays(posixpath.join(self.directory, self._state["best_weights"]))
        restore_early_stopping(stopper, pending, best_weights)

    def on_epoch_end(self, epoch, logs=None):
        tf.io.gfile.makedirs(self.directory)
        state = dict(self._state)
        state["epoch"] = epoch + 1
        state["history"] = {k: [*v] for k, v in self._state["history"].items()}
        for name, value in (logs or {}).items():
            state["history"].setdefault(name, []).append(float(value))
        weights = self.model.get_weights()
        state["weights"] = f"epoch-{epoch + 1:04d}.npz"
        state["model_arrays"] = len(weights)
        # With weight averaging the model may hold the average now, and the optimiser the raw weights.
        state["weights_are_average"] = any(callback.holds_average for callback in self.averaging)
        _save_arrays(
            posixpath.join(self.directory, state["weights"]),
            weights + [np.array(v) for v in self.model.optimizer.variables],
        )
        stopper = self.early_stopping
        if stopper is not None:
            state["early_stopping"] = early_stopping_state(stopper)
            if stopper.best_weights is not None and stopper.best_epoch == epoch:
                state["best_weights"] = f"best-{epoch + 1:04d}.npz"
                _save_arrays(posixpath.join(self.directory, state["best_weights"]), stopper.best_weights)
        self._write_state(state)

    def on_train_end(self, logs=None):
        if self._state["epoch"] > 0:
            self._write_state({**self._state, "done": True})

    def finished(self) -> None:
        """Deletes the checkpoint: the model it led to is exported."""
        if tf.io.gfile.exists(self.directory):
            tf.io.gfile.rmtree(self.directory)

    def _write_state(self, state: dict[str, Any]) -> None:
        with tf.io.gfile.GFile(posixpath.join(self.directory, STATE_JSON), "w") as out:
            json.dump(state, out)
        self._state = state
        keep = {state.get("weights"), state.get("best_weights"), STATE_JSON}
        for name in tf.io.gfile.listdir(self.directory):
            if name not in keep:
                tf.io.gfile.remove(posixpath.join(self.directory, name))
