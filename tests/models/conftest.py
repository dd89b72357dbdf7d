"""Fixtures for the model tests: a real Transform graph built with tf.Transform's Beam API on tiny data."""

from __future__ import annotations

import pytest
import tensorflow_transform as tft
from tiny_export import build_transform_output


@pytest.fixture(scope="session")
def transform_output_32(tmp_path_factory) -> tft.TFTransformOutput:
    """A Transform graph for 32×32 PNG images (the `test` profile's size)."""
    return build_transform_output(tmp_path_factory.mktemp("transform32"), 32)
