"""The Transform graph (`preprocessing_fn`) and the Tuner's and Trainer's input pipelines that apply it."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from data.examples import IMAGE_KEY, LABEL_KEY
from data.graph import branch

IMAGE_XF = "image_xf"  # float32 (H, W, 1) in [0, 1]
LABEL_XF = "label_xf"  # int64 class id


DECODE_CHUNK = 16  # PNGs decoded per step of the decoding loop


def decode_png_image(data: tf.Tensor, size: int) -> tf.Tensor:
    """Decodes one one-channel PNG string into uint8 [size, size, 1], checking the size."""
    return tf.ensure_shape(tf.io.decode_png(data, channels=1), [size, size, 1])


def decode_images(png: tf.Tensor, size: int) -> tf.Tensor:
    """Decodes a batch of one-channel PNG strings into uint8 [N, size, size, 1], checking the size."""
    png = tf.reshape(png, [-1])
    count = tf.size(png)

    def decode(data: tf.Tensor) -> tf.Tensor:
        return decode_png_image(data, size)

    def decode_chunks() -> tf.Tensor:
        # A step of map_fn's loop costs about what decoding a 28×28 PNG does, so each step decodes
        # DECODE_CHUNK of them as independent ops (free to run in parallel); a blank PNG pads the last
        # chunk, and its pixels are cut off again. Measured on 64 served examples: 1.02 ms instead of 1.33.
        blank = tf.io.encode_png(tf.zeros([size, size, 1], tf.uint8))
        padded = tf.concat([png, tf.fill([(-count) % DECODE_CHUNK], blank)], axis=0)
        decoded = tf.map_fn(
            lambda chunk: tf.stack([decode(chunk[i]) for i in range(DECODE_CHUNK)]),
            tf.reshape(padded, [-1, DECODE_CHUNK]),
            fn_output_signature=tf.TensorSpec([DECODE_CHUNK, size, size, 1], tf.uint8),
        )
        return tf.reshape(decoded, [-1, size, size, 1])[:count]

    # A single image (a served request at batch 1) skips the loop and the padding.
    images = branch(tf.equal(count, 1), lambda: decode(png[0])[tf.newaxis], decode_chunks)
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


class TransformMismatchError(ValueError):
    """The Transform graph no longer equals decoding then `scale_pixels`, so serving would be skewed."""


def check_transform_is_scaling(tf_transform_output: tft.TFTransformOutput, size: int) -> None:
    """Checks that the Transform graph maps PNG images to exactly `scale_pixels` of their pixels.

    Probes: two size×size images that hold every grey level 0-255 in different places.

    Raises:
        TransformMismatchError: any output pixel differs, so the served graph (which applies
            `scale_pixels` to pixels it never PNG-encodes) would no longer match training.
    """
    levels = (np.arange(size * size) % 256).astype(np.uint8).reshape(size, size)
    probes = np.stack([levels, levels[::-1].T])[..., np.newaxis]
    png = tf.stack([tf.io.encode_png(image) for image in tf.constant(probes)])
    transformed = tf_transform_output.transform_features_layer()({IMAGE_KEY: tf.reshape(png, [-1, 1])})
    served = scale_pixels(tf.constant(probes)).numpy()
    got = transformed[IMAGE_XF].numpy()
    if got.shape != served.shape or not np.array_equal(got, served):
        raise TransformMismatchError(
            f"the Transform graph's {IMAGE_XF} is no longer decode-then-scale_pixels "
            f"(shape {list(got.shape)} vs {list(served.shape)}, max |Δ| "
            f"{np.abs(got - served).max() if got.shape == served.shape else 'n/a'}); "
            "models/export.py must apply the same change to the pixels it serves"
        )


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
    """Turns serialized raw examples into (image_xf, label) batches: the Transform graph's output.

    Given the image size, it decodes each split's PNGs once and keeps the uint8 pixels in memory
    (50,000 images at 128×128: 0.8 GB), then applies `scale_pixels` to every batch: the Transform
    graph's work without its PNG decoding, which would otherwise compete with training for the same
    cores every epoch. That is the Transform graph exactly: `check_transform_is_scaling` verifies it
    first, and raises otherwise.
    """

    def __init__(self, tf_transform_output: tft.TFTransformOutput, image_size: int | None = None):
        self._spec = {
            k: v for k, v in tf_transform_output.raw_feature_spec().items() if k in (IMAGE_KEY, LABEL_KEY)
        }
        self._layer = tf_transform_output.transform_features_layer()
        self._size = image_size
        self._decoded: dict[int, tuple[tf.data.Dataset, tf.data.Dataset]] = {}
        if image_size is not None:
            check_transform_is_scaling(tf_transform_output, image_size)

    def decoded(self, records: tf.data.Dataset) -> tf.data.Dataset:
        """Returns (uint8 image [H, W, 1], label) per example: decoded on the first pass, then from memory."""
        if id(records) not in self._decoded:  # the Tuner's trials share their records' pixels

            def parse(serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
                features = tf.io.parse_example(serialized, self._spec)
                return decode_images(features[IMAGE_KEY], self._size), tf.reshape(features[LABEL_KEY], [-1])

            decoded = records.batch(256).map(parse, num_parallel_calls=tf.data.AUTOTUNE).unbatch().cache()
            decoded = decoded.apply(tf.data.experimental.assert_cardinality(records.cardinality()))
            self._decoded[id(records)] = (records, decoded)  # holding `records` keeps its id unique
        return self._decoded[id(records)][1]

    def transform(self, serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns (image_xf, label) for a batch of serialized examples."""
        features = self._layer(tf.io.parse_example(serialized, self._spec))
        return features[IMAGE_XF], features[LABEL_XF]

    def dataset(
        self, records: tf.data.Dataset, batch_size: int, shuffle: bool, seed: int | None = None
    ) -> tf.data.Dataset:
        """Returns one pass over `records` as transformed batches (shuffled anew each pass if asked)."""
        if self._size is not None:
            pixels = self.decoded(records)
            if shuffle:
                pixels = pixels.shuffle(50_000, seed=seed, reshuffle_each_iteration=True)
            scale = lambda images, labels: (scale_pixels(images), labels)  # noqa: E731
            batches = pixels.batch(batch_size).map(scale, num_parallel_calls=tf.data.AUTOTUNE)
            return batches.prefetch(tf.data.AUTOTUNE)
        if shuffle:
            records = records.shuffle(50_000, seed=seed, reshuffle_each_iteration=True)
        batches = records.batch(batch_size).map(self.transform, num_parallel_calls=tf.data.AUTOTUNE)
        return batches.prefetch(tf.data.AUTOTUNE)
