"""The tf.Example contract shared by every component and the serving clients: feature names, PNG encoding."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import tensorflow as tf

IMAGE_KEY = "image"  # PNG bytes, one grey channel
LABEL_KEY = "label"  # int64 class id, 0-9
ID_KEY = "id"  # bytes, "<source file>:<index>"
HEIGHT_KEY = "height"  # int64
WIDTH_KEY = "width"  # int64


def encode_png(image: np.ndarray) -> bytes:
    """Encodes a 2-D uint8 image as PNG (lossless, and compact for these mostly-black images)."""
    ok, buffer = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"could not PNG-encode an image of shape {image.shape}")
    return buffer.tobytes()


def decode_png(data: bytes) -> np.ndarray:
    """Decodes PNG bytes into a 2-D uint8 image.

    Raises:
        ValueError: the bytes are not a PNG image.
    """
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError("bytes are not a decodable PNG image")
    return image


def make_example(image: np.ndarray, label: int, example_id: str) -> tf.train.Example:
    """Builds the tf.Example for one image."""
    height, width = image.shape
    feature = {
        IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[encode_png(image)])),
        LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
        ID_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[example_id.encode()])),
        HEIGHT_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[height])),
        WIDTH_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[width])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def serialize_examples(images: np.ndarray, names: Sequence[str] | None = None) -> list[bytes]:
    """Builds the serialized tf.Examples that `serving_default` takes: PNG `image` plus its size.

    No `label` is written: at prediction time it is unknown, and the serving signature must not need it.

    Args:
        images: a validated [N, 28, 28] batch (float grey levels are rounded to uint8 for PNG).
        names: optional per-image ids written to the `id` feature.
    """
    batch = np.clip(np.rint(np.asarray(images, dtype=np.float64)), 0, 255).astype(np.uint8)
    serialized = []
    for index, image in enumerate(batch):
        name = names[index] if names is not None and index < len(names) else f"item {index}"
        feature = {
            IMAGE_KEY: bytes_feature(encode_png(image)),
            ID_KEY: bytes_feature(name.encode()),
            HEIGHT_KEY: int_feature(image.shape[0]),
            WIDTH_KEY: int_feature(image.shape[1]),
        }
        example = tf.train.Example(features=tf.train.Features(feature=feature))
        serialized.append(example.SerializeToString(deterministic=True))
    return serialized


def bytes_feature(value: bytes) -> tf.train.Feature:
    """Wraps one bytes value as a tf.train.Feature."""
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def int_feature(value: int) -> tf.train.Feature:
    """Wraps one integer as a tf.train.Feature."""
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


class ExampleError(ValueError):
    """An example lacks a feature or holds an image that cannot be used; names the example."""


def read_example(serialized: bytes) -> tuple[np.ndarray, int, str, tf.train.Example]:
    """Parses one serialized example into (image, label, id, proto), with clear errors.

    Raises:
        ExampleError: unparseable bytes, a missing feature, or an image that is not 2-D uint8.
    """
    example = tf.train.Example()
    try:
        example.ParseFromString(serialized)
    except Exception as err:  # protobuf raises its own DecodeError type
        raise ExampleError(f"unparseable tf.Example ({len(serialized)} bytes): {err}") from err
    features = example.features.feature
    example_id = features[ID_KEY].bytes_list.value[0].decode() if ID_KEY in features else "<no id>"
    for key in (IMAGE_KEY, LABEL_KEY):
        if key not in features:
            raise ExampleError(f"example {example_id}: missing feature '{key}'")
    if not features[IMAGE_KEY].bytes_list.value:
        raise ExampleError(f"example {example_id}: feature '{IMAGE_KEY}' is not PNG bytes")
    try:
        image = decode_png(features[IMAGE_KEY].bytes_list.value[0])
    except ValueError as err:
        raise ExampleError(f"example {example_id}: {err}") from err
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ExampleError(
            f"example {example_id}: image must be one-channel uint8, got shape {image.shape} {image.dtype}"
        )
    label = int(features[LABEL_KEY].int64_list.value[0])
    return image, label, example_id, example
