"""A real Transform graph and a real (small, briefly trained) serving export, built on tiny data."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

from data.examples import encode_png
from models.preprocessing import preprocessing_fn

# The feature spec of the examples Transform reads, the upscaler's output (one value per feature).
RAW_FEATURE_SPEC = {
    "image": tf.io.FixedLenFeature([1], tf.string),
    "label": tf.io.FixedLenFeature([1], tf.int64),
    "id": tf.io.FixedLenFeature([1], tf.string),
    "height": tf.io.FixedLenFeature([1], tf.int64),
    "width": tf.io.FixedLenFeature([1], tf.int64),
}
TINY_SIZE = 32  # the `test` profile's image size


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


def tiny_model_choices(seed: int = 0, test_time_flip: bool = False):
    """Returns the tiny model's (ModelSettings, keras_tuner.HyperParameters): a small CNN at 32×32."""
    from models.search_space import search_space
    from models.settings import ModelSettings

    settings = ModelSettings(
        image_size=TINY_SIZE,
        upscale=True,
        interpolation="linear",
        stems=(1,),
        seed=seed,
        test_time_flip=test_time_flip,
    )
    hp = search_space(settings)
    hp.values.update(cnn_blocks=2, cnn_filters=8, augment_probability=0.0)
    return settings, hp


def export_tiny_model(directory: Path, seed: int = 0, test_time_flip: bool = False) -> Path:
    """Exports a small CNN (upscale 28→32, a few epochs on class-striped images) as the Trainer does.

    Args:
        directory: where the transform graph and the model go.
        seed: the data's and the training's seed.
        test_time_flip: the exported model averages each image with its mirror image.

    Returns:
        The SavedModel folder (`directory / "model"`).
    """
    import keras
    from support import make_images

    from data.resize import upscale_images
    from models.export import export_serving_model
    from models.families import build_model, float32_copy

    transform_output = build_transform_output(directory / "transform", TINY_SIZE)
    settings, hp = tiny_model_choices(seed, test_time_flip)
    keras.utils.set_random_seed(seed)
    model = build_model(hp, settings)
    images, labels = make_images(200, seed)
    pixels = upscale_images(images, TINY_SIZE)[..., None].astype(np.float32) / 255.0
    model.fit(pixels, labels.astype(np.int64), batch_size=32, epochs=3, verbose=0)
    # As the Trainer does: trained in the policy `precision` picks, exported as its float32 copy.
    export_serving_model(
        float32_copy(model, hp, settings), transform_output, settings, str(directory / "model")
    )
    return directory / "model"
