"""The Trainer's epoch checkpoint: a training killed after epoch N resumes at epoch N + 1."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from models.families import make_optimizer, weight_averaging_callbacks
from models.resume import STATE_JSON, EpochCheckpoint, resume_dir
from models.settings import ModelSettings

STEPS = 4  # batches per epoch


class KilledError(Exception):
    pass


class KillAfter(keras.callbacks.Callback):
    """Stands in for SIGKILL at the end of an epoch (after the checkpoint was written)."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KilledError


def _model(seed: int, settings: ModelSettings | None = None) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)]
    )
    model.compile(
        optimizer=make_optimizer(settings or ModelSettings(), 1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _data(seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(16 * STEPS, 8)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)


def _early_stopping():
    return keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=10, restore_best_weights=True
    )


def test_a_killed_training_resumes_after_its_last_finished_epoch(tmp_path, seed):
    x, y = _data(seed)
    directory = str(tmp_path / "resume" / "key")
    model = _model(seed)
    checkpoint = EpochCheckpoint(directory, _early_stopping())
    with pytest.raises(KilledError):
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=6,
            validation_data=(x, y),
            verbose=0,
            callbacks=[checkpoint.early_stopping, checkpoint, KillAfter(3)],
        )
    state = json.loads((tmp_path / "resume" / "key" / STATE_JSON).read_text())
    assert state["epoch"] == 3 and not state["done"]
    saved = model.get_weights()
    # Only the last epoch's arrays (and the best epoch's) are kept.
    names = sorted(p.name for p in (tmp_path / "resume" / "key").iterdir())
    assert names[1:] == ["epoch-0003.npz", STATE_JSON] and names[0].startswith("best-")
    # The rerun: a fresh model (other initial weights), the same checkpoint folder.
    resumed = _model(seed + 1)
    stopper = _early_stopping()
    again = EpochCheckpoint(directory, stopper)
    start = again.restore(resumed)
    assert start == 3
    for expected, actual in zip(saved, resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(expected, actual)
    assert int(resumed.optimizer.iterations.numpy()) == 3 * STEPS  # the optimizer's state came back too
    history = resumed.fit(
        x,
        y,
        batch_size=16,
        epochs=6,
        initial_epoch=start,
        validation_data=(x, y),
        verbose=0,
        callbacks=[stopper, again],
    )
    assert history.epoch == [3, 4, 5]  # only the epochs that had not finished
    assert int(resumed.optimizer.iterations.numpy()) == 6 * STEPS
    assert len(again.history["loss"]) == len(again.history["val_accuracy"]) == 6
    assert again.history["loss"][:3] == state["history"]["loss"]
    assert json.loads((tmp_path / "resume" / "key" / STATE_JSON).read_text())["done"]
    again.finished()
    assert not (tmp_path / "resume" / "key").exists()


def test_a_killed_training_with_weight_averaging_resumes_from_the_raw_weights(tmp_path, seed):
    # Killed and resumed, it ends where the same training run through ends: the average in the model
    # (as validation and the export see it), the optimiser having continued from the raw weights.
    # Keras swaps by adding and subtracting, the restore by assignment: equal to float32 rounding.
    averaged = ModelSettings(weight_averaging=0.9)
    x, y = _data(seed)

    def fit(model, directory, settings=averaged, initial_epoch=0, kill=()):
        averaging = weight_averaging_callbacks(settings)
        checkpoint = EpochCheckpoint(str(directory), averaging=averaging)
        start = checkpoint.restore(model)
        assert start == initial_epoch
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=6,
            initial_epoch=start,
            shuffle=False,
            validation_data=(x, y),
            verbose=0,
            callbacks=[*averaging, checkpoint, *kill],
        )
        return checkpoint

    straight = _model(seed, averaged)
    run_through = fit(straight, tmp_path / "straight")
    killed = _model(seed, averaged)
    with pytest.raises(KilledError):
        fit(killed, tmp_path / "killed", kill=[KillAfter(3)])
    state = json.loads((tmp_path / "killed" / STATE_JSON).read_text())
    assert state["weights_are_average"] and state["epoch"] == 3
    resumed = _model(seed + 1, averaged)
    again = fit(resumed, tmp_path / "killed", initial_epoch=3)
    for metric in ("loss", "val_loss"):  # the training loss is the raw weights', val_loss the average's
        np.testing.assert_allclose(again.history[metric], run_through.history[metric], rtol=1e-5)
    for expected, actual in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
    for expected, actual in zip(straight.optimizer.variables, resumed.optimizer.variables, strict=True):
        np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=1e-5, atol=1e-6)
    # The averaging is real: the model ends on weights other than those of the same training without it.
    raw = _model(seed)
    fit(raw, tmp_path / "raw", settings=ModelSettings())
    assert not all(np.allclose(a, b) for a, b in zip(raw.get_weights(), straight.get_weights(), strict=True))


def test_a_finished_training_is_not_trained_again(tmp_path, seed):
    x, y = _data(seed)
    directory = str(tmp_path / "resume")
    model = _model(seed)
    stopper = _early_stopping()
    checkpoint = EpochCheckpoint(directory, stopper)
    model.fit(
        x, y, batch_size=16, epochs=3, validation_data=(x, y), verbose=0, callbacks=[stopper, checkpoint]
    )
    final = model.get_weights()  # early stopping restored the best epoch's weights

    again = EpochCheckpoint(directory, _early_stopping())
    fresh = _model(seed + 1)
    assert again.restore(fresh) == 3 and again.done
    assert again.restored_best_epoch == stopper.best_epoch
    for expected, actual in zip(final, fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(expected, actual)


def test_the_checkpoint_folder_is_named_by_what_determines_the_training():
    run_dir = "gs://bucket/root/pipeline/Trainer/model_run/17"
    first = resume_dir(run_dir, {"hyperparameters": {"lr": 1e-3}, "train_files": ["a"]})
    assert first.startswith("gs://bucket/root/pipeline/Trainer/resume/")
    # Another execution id of the same training: the same folder; other inputs: another one.
    assert (
        resume_dir(
            "gs://bucket/root/pipeline/Trainer/model_run/18",
            {"train_files": ["a"], "hyperparameters": {"lr": 1e-3}},
        )
        == first
    )
    assert resume_dir(run_dir, {"hyperparameters": {"lr": 3e-3}, "train_files": ["a"]}) != first
