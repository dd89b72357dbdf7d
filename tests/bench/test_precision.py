"""bench.precision: one model's training images/s in each arithmetic."""

from __future__ import annotations

import math

import numpy as np

from bench.precision import profile_rates, results_name
from models.settings import FLOAT32, MIXED_BFLOAT16, ModelSettings


def test_both_arithmetics_are_timed_on_the_settings_model(seed):
    settings = ModelSettings(image_size=32, stems=(2,), batch_size=16, seed=seed)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (32, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 32)

    rates = profile_rates(settings, images, labels, epochs=1)

    assert rates["batch_size"] == 16
    for policy in (FLOAT32, MIXED_BFLOAT16):
        assert math.isfinite(rates[policy]) and rates[policy] > 0


def test_the_results_file_is_named_after_what_auto_picks():
    assert results_name(FLOAT32) == "precision_float32"
    assert results_name(MIXED_BFLOAT16) == "precision_mixed_bfloat16"
