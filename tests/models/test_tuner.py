"""The Tuner's defaults-first random search, and each trial's learning-rate schedule."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from compat.keras_tuner import set_project_dir
from models.search_space import DEFAULTS, search_space
from models.settings import ModelSettings
from models.trainer import learning_rate_schedule
from models.tuner import DefaultsFirstRandomSearchOracle


def test_random_search_tries_the_defaults_first(tmp_path):
    oracle = DefaultsFirstRandomSearchOracle(
        objective="val_accuracy", hyperparameters=search_space(ModelSettings()), max_trials=3, seed=1
    )
    set_project_dir(oracle, str(tmp_path), "search")
    first = oracle.create_trial("worker-a").hyperparameters.values
    second = oracle.create_trial("worker-b").hyperparameters.values
    assert {k: first[k] for k in DEFAULTS} == DEFAULTS
    assert second != first


class _ArrayBatches:
    """The Tuner's input for this test: random 32×32 images (the trial's own batching kept)."""

    def dataset(self, records, batch_size, shuffle, seed=None):
        import tensorflow as tf

        images, labels = records
        return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_a_tuning_trial_decays_its_learning_rate_over_its_own_epochs(schedule, seed):
    import tensorflow as tf

    from models.families import build_model
    from models.tuner import FashionHyperModel

    settings = ModelSettings(image_size=32, stems=(2,), batch_size=16, seed=seed, schedule=schedule)
    hp = search_space(settings)
    hp.values.update(cnn_blocks=1, cnn_filters=16, learning_rate=3e-3)
    rng = np.random.default_rng(seed)
    data = (rng.random((32, 32, 32, 1), dtype=np.float32), rng.integers(0, 10, 32))
    rates = []

    class Rates(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:  # after the scheduler's on_epoch_begin
                rates.append(float(tf.convert_to_tensor(self.model.optimizer.learning_rate)))

    hypermodel = FashionHyperModel(settings, _ArrayBatches(), None)
    hypermodel.fit(hp, build_model(hp, settings), data, data, epochs=3, callbacks=[Rates()], verbose=0)

    assert rates[0] == pytest.approx(3e-3)
    assert rates == sorted(rates, reverse=True) and rates[2] < rates[1] < rates[0]
    expected = learning_rate_schedule(schedule, 3e-3, 3)
    assert rates == pytest.approx([expected(epoch, 0.0) for epoch in range(3)])


def test_a_tuning_trial_with_weight_averaging_scores_the_average(seed):
    from models.families import build_model
    from models.tuner import FashionHyperModel

    settings = ModelSettings(image_size=32, stems=(2,), batch_size=16, seed=seed, weight_averaging=0.9)
    hp = search_space(settings)
    hp.values.update(cnn_blocks=1, cnn_filters=16, learning_rate=3e-3)
    rng = np.random.default_rng(seed)
    data = (rng.random((32, 32, 32, 1), dtype=np.float32), rng.integers(0, 10, 32))
    model = build_model(hp, settings)
    history = FashionHyperModel(settings, _ArrayBatches(), None).fit(
        hp, model, data, data, epochs=3, verbose=0
    )
    # The model ends holding the average (Keras overwrites the weights with it after fit); the trial's
    # last validation must be that model's, not the raw weights'.
    loss, _ = model.evaluate(_ArrayBatches().dataset(data, 16, shuffle=False), verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-5)
