"""The Trainer's untrained (0-epoch) export and its learning-rate schedules."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from models.settings import SCHEDULES, ModelSettings
from models.trainer import cosine_learning_rate, learning_rate_schedule, linear_learning_rate, train
from pipeline.config import ConfigError, make_config


def test_zero_epochs_is_valid_and_exports_the_initialised_model(transform_output_32, tmp_path):
    assert make_config("test", tmp_path, train_epochs=0).model.train_epochs == 0
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


def test_warm_up_rises_linearly_to_the_base_rate_then_the_cosine_decays_it():
    rates = [cosine_learning_rate(0.1, 10, warmup=2)(epoch, 0.0) for epoch in range(10)]
    assert rates[:3] == pytest.approx([0.1 / 3, 0.2 / 3, 0.1])
    assert all(a > b for a, b in zip(rates[2:-1], rates[3:], strict=True))
    assert rates[-1] < 0.005


def test_cosine_learning_rate_decays_from_the_base_rate():
    schedule = cosine_learning_rate(1e-3, 10)
    rates = [schedule(epoch, 0.0) for epoch in range(10)]
    assert rates[0] == pytest.approx(1e-3)
    assert all(a > b for a, b in zip(rates[:-1], rates[1:], strict=True))
    assert rates[-1] < 0.05e-3


def test_the_linear_schedule_warms_up_then_falls_in_equal_steps_to_zero_at_the_end():
    rates = [linear_learning_rate(0.1, 10, warmup=2)(epoch, 0.0) for epoch in range(10)]
    assert rates[:3] == pytest.approx([0.1 / 3, 0.2 / 3, 0.1])
    # Eight epochs after the warm-up: 8/8, 7/8, ... 1/8 of the peak; the next step (the end) is zero.
    assert rates[2:] == pytest.approx([0.1 * k / 8 for k in range(8, 0, -1)])


def test_each_named_schedule_is_built_and_an_unknown_one_is_refused():
    built = {kind: learning_rate_schedule(kind, 0.1, 10, 2)(5, 0.0) for kind in SCHEDULES}
    assert built == {"cosine": cosine_learning_rate(0.1, 10, 2)(5, 0.0), "linear": 0.1 * 5 / 8}
    with pytest.raises(ValueError, match="schedule must be one of cosine, linear, got 'step'"):
        learning_rate_schedule("step", 0.1, 10)
