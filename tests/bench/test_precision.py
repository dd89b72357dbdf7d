"""bench.precision: one model's training images/s in each arithmetic and kernel set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.precision import (
    BASELINES,
    KERNELS,
    ONEDNN_FLOAT32,
    TENSORFLOW_KERNELS,
    describe,
    measure,
    profile_rates,
    results_name,
)
from bench.training import throughput
from models.settings import FLOAT32, MIXED_BFLOAT16, ModelSettings
from pipeline import ONEDNN_OFF, ONEDNN_ON


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
def test_a_measurement_runs_in_its_own_process_on_the_kernels_it_asked_for(configuration, canonical_data_dir):
    # `measure` raises if the child's TensorFlow ran other kernels than its switch asked for.
    record = measure("quick", configuration, count=64, epochs=1, data_dir=str(canonical_data_dir))

    assert record["onednn"] is (configuration is ONEDNN_FLOAT32)
    assert record["images"] == 64 and len(record["epoch_rates"]) == 1


def test_every_ratio_is_taken_against_a_measured_configuration():
    assert set(BASELINES.values()) - {None} <= set(BASELINES)
    assert describe(TENSORFLOW_KERNELS) == f"{FLOAT32}, {KERNELS[ONEDNN_OFF]}"
    assert describe(ONEDNN_FLOAT32) == f"{FLOAT32}, {KERNELS[ONEDNN_ON]}"


def test_throughput_is_all_the_images_over_all_the_seconds():
    # 100 images at 100/s and 100 at 50/s: 200 images in 3 s, not the rates' mean of 75.
    assert throughput([100.0, 50.0]) == pytest.approx(200 / 3)


def test_the_results_file_is_named_after_what_auto_picks():
    assert results_name(FLOAT32) == "precision_float32"
    assert results_name(MIXED_BFLOAT16) == "precision_mixed_bfloat16"
