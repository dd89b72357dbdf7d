"""Fixtures for the model tests: a real Transform graph built with tf.Transform's Beam API on tiny data."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

from fashion_tfx.data.examples import encode_png
from fashion_tfx.models.preprocessing import preprocessing_fn

# The raw feature spec as SchemaGen infers it from ExampleGen's output (one value per feature).
RAW_FEATURE_SPEC = {
    "image": tf.io.FixedLenFeature([1], tf.string),
    "label": tf.io.FixedLenFeature([1], tf.int64),
    "id": tf.io.FixedLenFeature([1], tf.string),
    "height": tf.io.FixedLenFeature([1], tf.int64),
    "width": tf.io.FixedLenFeature([1], tf.int64),
}


def build_transform_output(directory: Path, image_size: int) -> tft.TFTransformOutput:
    """Runs `preprocessing_fn` through tf.Transform's analysis and writes the transform graph."""
    size = image_size
    instances = [
        {
            "image": [encode_png(np.full((size, size), 7 * i, dtype=np.uint8))],
            "label": [i],
            "id": [f"x:{i}".encode()],
            "height": [size],
            "width": [size],
        }
        for i in range(4)
    ]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_FEATURE_SPEC))
    with tft_beam.Context(temp_dir=tempfile.mkdtemp()):
        transform_fn = (instances, metadata) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing_fn(inputs, {"image_size": size})
        )
        _ = transform_fn | tft_beam.WriteTransformFn(str(directory))
    # TFX's Transform also records the raw schema, which the Trainer parses examples with.
    metadata_io.write_metadata(metadata, str(directory / tft.TFTransformOutput.RAW_METADATA_DIR))
    return tft.TFTransformOutput(str(directory))


@pytest.fixture(scope="session")
def transform_output_32(tmp_path_factory) -> tft.TFTransformOutput:
    """A Transform graph for 32×32 PNG images (the `test` profile's size)."""
    return build_transform_output(tmp_path_factory.mktemp("transform32"), 32)
