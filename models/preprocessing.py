"""The Transform graph (`preprocessing_fn`) and the Tuner's and Trainer's input pipelines that apply it."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from data.examples import IMAGE_KEY, LABEL_KEY

IMAGE_XF = "image_xf"  # float32 (H, W, 1) in [0, 1]
LABEL_XF = "label_xf"  # int64 class id


def decode_images(png: tf.Tensor, size: int) -> tf.Tensor:
    """Decodes a batch of one-channel PNG strings into uint8 [N, size, size, 1], checking the size."""
    png = tf.reshape(png, [-1])

    def decode(data: tf.Tensor) -> tf.Tensor:
        return tf.ensure_shape(tf.io.decode_png(data, channels=1), [size, size, 1])

    # A single image (a served request at batch 1) skips map_fn's loop, which costs more than the decode.
    images = tf.cond(
        tf.equal(tf.size(png), 1),
        lambda: decode(png[0])[tf.newaxis],
        lambda: tf.map_fn(decode, png, fn_output_signature=tf.TensorSpec([size, size, 1], tf.uint8)),
    )
    return tf.reshape(images, [-1, size, size, 1])


def scale_pixels(images: tf.Tensor) -> tf.Tensor:
    """Decoded grey levels uint8 [N, H, W, 1] -> `image_xf` float32 in [0, 1].

    The Transform graph's whole work on pixels, kept apart from the decoding so that the served graph,
    which gets pixels rather than PNG bytes, applies this same function (see `models/export.py`, which
    checks at export that the Transform graph still equals decoding followed by this).
    """
    # A product, not a quotient: graph optimisers rewrite division by a constant into this product
    # in some graphs and not others, which differ in the last bit; a product is the same everywhere.
    return tf.cast(images, tf.float32) * tf.constant(1.0 / 255.0, tf.float32)


# Called by the TFX Transform.
def preprocessing_fn(inputs: dict[str, tf.Tensor], custom_config: dict[str, Any]) -> dict[str, tf.Tensor]:
    """Scales pixels to [0, 1] and shapes them (H, W, 1); the label passes through.

    Args:
        inputs: raw features; `image` holds PNG bytes at `custom_config["image_size"]`.
        custom_config: the pipeline's model settings (`models.settings.ModelSettings`).

    Returns:
        `image_xf` float32 [N, H, W, 1] and `label_xf` int64 [N].
    """
    size = int(custom_config["image_size"])
    images = decode_images(inputs[IMAGE_KEY], size)
    outputs = {IMAGE_XF: scale_pixels(images)}
    if LABEL_KEY in inputs:
        outputs[LABEL_XF] = tf.reshape(inputs[LABEL_KEY], [-1])
    return outputs


def list_files(file_patterns: list[str] | str) -> list[str]:
    """Expands TFX's split file patterns into a sorted list of files."""
    patterns = [file_patterns] if isinstance(file_patterns, str) else list(file_patterns)
    files = sorted(f for pattern in patterns for f in tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no example files match {patterns}")
    return files


def read_records(file_patterns: list[str] | str, cap: int | None = None) -> tf.data.Dataset:
    """Returns the serialized tf.Examples of gzip TFRecord files (optionally the first `cap`), cached.

    The PNG-encoded records are small (the Transform output would be 64 KB per 128×128 image), so they
    are cached and decoded again each epoch. The dataset knows its length: counting it fills the cache,
    and Keras, told how many batches an epoch has, no longer runs off the end of the first epoch
    ("Your input ran out of data").
    """
    records = tf.data.TFRecordDataset(list_files(file_patterns), compression_type="GZIP")
    if cap:
        records = records.take(cap)
    records = records.cache()
    count = int(records.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
    return records.apply(tf.data.experimental.assert_cardinality(count))


class TransformedBatches:
    """Turns serialized raw examples into (image_xf, label) batches through the Transform graph."""

    def __init__(self, tf_transform_output: tft.TFTransformOutput):
        self._spec = {
            k: v for k, v in tf_transform_output.raw_feature_spec().items() if k in (IMAGE_KEY, LABEL_KEY)
        }
        self._layer = tf_transform_output.transform_features_layer()

    def transform(self, serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns (image_xf, label) for a batch of serialized examples."""
        features = self._layer(tf.io.parse_example(serialized, self._spec))
        return features[IMAGE_XF], features[LABEL_XF]

    def dataset(
        self, records: tf.data.Dataset, batch_size: int, shuffle: bool, seed: int | None = None
    ) -> tf.data.Dataset:
        """Returns one pass over `records` as transformed batches (shuffled anew each pass if asked)."""
        if shuffle:
            records = records.shuffle(50_000, seed=seed, reshuffle_each_iteration=True)
        batches = records.batch(batch_size).map(self.transform, num_parallel_calls=tf.data.AUTOTUNE)
        return batches.prefetch(tf.data.AUTOTUNE)
