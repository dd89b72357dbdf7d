"""The search space's batch sizes, the defaults-first random search and untrained (0-epoch) training."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fashion_tfx.models.search_space import DEFAULTS, ModelSettings, search_space
from fashion_tfx.models.trainer import cosine_learning_rate, train
from fashion_tfx.models.tuner import DefaultsFirstRandomSearchOracle
from fashion_tfx.pipeline.config import ConfigError, make_config


def test_batch_size_choices_stop_at_the_configured_batch_size():
    assert search_space(ModelSettings(batch_size=16)).space[4].values == [16]
    assert search_space(ModelSettings(batch_size=64)).space[4].values == [16, 32, 64]
    assert search_space(ModelSettings(batch_size=128)).get("batch_size") == 128


def test_test_profile_searches_small_batches_only(tmp_path):
    config = make_config("test", tmp_path)
    assert config.batch_size <= 32 and config.train_epochs >= 10


def test_random_search_tries_the_defaults_first(tmp_path):
    oracle = DefaultsFirstRandomSearchOracle(
        objective="val_accuracy", hyperparameters=search_space(ModelSettings()), max_trials=3, seed=1
    )
    oracle._set_project_dir(str(tmp_path), "search")
    first = oracle.create_trial("worker-a").hyperparameters.values
    second = oracle.create_trial("worker-b").hyperparameters.values
    assert {k: first[k] for k in DEFAULTS} == DEFAULTS
    assert second != first


def test_zero_epochs_is_valid_and_exports_the_initialised_model(transform_output_32, tmp_path):
    assert make_config("test", tmp_path, train_epochs=0).train_epochs == 0
    with pytest.raises(ConfigError, match="train_epochs must be a non-negative integer"):
        make_config("test", tmp_path, train_epochs=-1)
    with pytest.raises(ValueError, match="train_epochs"):
        ModelSettings(train_epochs=-1)
    settings = ModelSettings(image_size=32, stems=(2,), train_epochs=0, batch_size=16)
    keras.utils.set_random_seed(settings.seed)
    # No files: a 0-epoch Trainer must not read any data.
    model, history, _ = train(settings, None, transform_output_32, [], [], log_dir=str(tmp_path / "logs"))
    assert history == {}
    images = np.random.default_rng(0).random((8, 32, 32, 1), dtype=np.float32)
    probabilities = model.predict(images, verbose=0)
    assert probabilities.shape == (8, 10)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_cosine_learning_rate_decays_from_the_base_rate():
    schedule = cosine_learning_rate(1e-3, 10)
    rates = [schedule(epoch, 0.0) for epoch in range(10)]
    assert rates[0] == pytest.approx(1e-3)
    assert all(a > b for a, b in zip(rates[:-1], rates[1:], strict=True))
    assert rates[-1] < 0.05e-3


class _ArrayBatches:
    """The Tuner's input for this test: random 32×32 images (the trial's own batching kept)."""

    def dataset(self, records, batch_size, shuffle, seed=None):
        import tensorflow as tf

        images, labels = records
        return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)


def test_a_tuning_trial_decays_its_learning_rate_over_its_own_epochs(seed):
    import tensorflow as tf

    from fashion_tfx.models.families import build_model
    from fashion_tfx.models.tuner import FashionHyperModel

    settings = ModelSettings(image_size=32, stems=(2,), batch_size=16, seed=seed)
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
    assert rates == pytest.approx([cosine_learning_rate(3e-3, 3)(epoch, 0.0) for epoch in range(3)])
