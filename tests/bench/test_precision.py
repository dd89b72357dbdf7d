"""bench.precision: one model's training images/s in each arithmetic and kernel set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.precision import (
    BASELINES,
    ONEDNN_FLOAT32,
    TENSORFLOW_KERNELS,
    describe,
    measure,
    profile_rates,
    results_name,
)
from models.settings import FLOAT32, MIXED_BFLOAT16, ModelSettings


@pytest.mark.parametrize("policy", [FLOAT32, MIXED_BFLOAT16])
def test_each_epoch_is_timed_on_the_settings_model(seed, policy):
    settings = ModelSettings(image_size=32, stems=(2,), batch_size=16, seed=seed)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (32, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 32)

    rates = profile_rates(settings, images, labels, epochs=2, policy=policy)

    assert rates["batch_size"] == 16
    assert len(rates["epoch_rates"]) == 2
    assert all(math.isfinite(rate) and rate > 0 for rate in rates["epoch_rates"])


@pytest.mark.parametrize("configuration", [TENSORFLOW_KERNELS, ONEDNN_FLOAT32])
def test_a_measurement_runs_in_its_own_process_on_the_kernels_it_asked_for(configuration):
    # `measure` raises if the child's TensorFlow ran other kernels than its switch asked for.
    record = measure("quick", configuration, count=64, epochs=1)

    assert record["onednn"] is (configuration is ONEDNN_FLOAT32)
    assert record["images"] == 64 and len(record["epoch_rates"]) == 1


def test_every_ratio_is_taken_against_a_measured_configuration():
    assert set(BASELINES.values()) - {None} <= set(BASELINES)
    assert describe(TENSORFLOW_KERNELS) == "float32, TensorFlow's kernels"
    assert describe(ONEDNN_FLOAT32) == "float32, oneDNN"


def test_the_results_file_is_named_after_what_auto_picks():
    assert results_name(FLOAT32) == "precision_float32"
    assert results_name(MIXED_BFLOAT16) == "precision_mixed_bfloat16"
