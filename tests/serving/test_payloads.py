"""Client input validation: shapes, dtypes, value range, batch size, PNG bytes, dataset indices."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
import tensorflow as tf

from data import examples
from data.examples import serialize_examples
from serving import payloads
from serving.payloads import PayloadError


def _png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def _png_header_only(height: int, width: int) -> bytes:
    """A PNG signature and IHDR chunk declaring a size, without pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return payloads.PNG_SIGNATURE + chunk


def test_validate_batch_returns_float32_of_the_same_values(good_images):
    batch = payloads.validate_batch(good_images)
    assert batch.dtype == np.float32
    assert batch.shape == (3, 28, 28)
    np.testing.assert_array_equal(batch, good_images.astype(np.float32))


def test_validate_batch_accepts_nested_lists():
    batch = payloads.validate_batch([[[0.0] * 28] * 28, [[255] * 28] * 28])
    assert batch.shape == (2, 28, 28)
    assert batch[1].max() == 255.0


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((2, 28, 27)), r"wrong shape \[2, 28, 27\]"),
        (np.zeros((28, 28)), r"wrong shape \[28, 28\]"),
        (np.zeros((1, 28, 28, 1)), r"wrong shape \[1, 28, 28, 1\]"),
        ([[[0] * 28] * 28, [[0] * 27] * 28], "wrong shape"),
        (np.full((1, 28, 28), "a"), "wrong dtype <U1"),
        (np.zeros((1, 28, 28), dtype=bool), "wrong dtype bool"),
        (np.zeros((1, 28, 28), dtype=np.complex64), "wrong dtype complex64"),
        (np.zeros((0, 28, 28)), "empty batch"),
        ([], "empty batch"),
        (np.zeros((257, 28, 28)), "oversized batch: 257 images, at most 256"),
    ],
)
def test_validate_batch_refuses_bad_batches(images, message):
    with pytest.raises(PayloadError, match=message):
        payloads.validate_batch(images)


@pytest.mark.parametrize("bad_value", [-1.0, 256.0, np.nan, np.inf])
def test_validate_batch_names_the_item_with_bad_grey_levels(bad_value):
    images = np.zeros((3, 28, 28), dtype=np.float32)
    images[2, 5, 5] = bad_value
    with pytest.raises(PayloadError, match="c.png: grey levels must be finite values in 0-255"):
        payloads.validate_batch(images, names=["a.png", "b.png", "c.png"])


def test_validate_batch_max_is_configurable():
    with pytest.raises(PayloadError, match="oversized batch: 3 images, at most 2"):
        payloads.validate_batch(np.zeros((3, 28, 28)), max_batch=2)
    assert payloads.validate_batch(np.zeros((2, 28, 28)), max_batch=2).shape == (2, 28, 28)


def test_image_from_png_round_trips_a_grey_image(good_images):
    np.testing.assert_array_equal(payloads.image_from_png(_png(good_images[0]), "x.png"), good_images[0])


def test_image_from_png_converts_colour_to_grey():
    colour = np.zeros((28, 28, 3), dtype=np.uint8)
    colour[..., 1] = 200  # green
    grey = payloads.image_from_png(_png(colour), "colour.png")
    assert grey.shape == (28, 28)
    assert grey.dtype == np.uint8
    assert 100 < int(grey[0, 0]) < 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty.png: empty file, not a PNG image"),
        (b"GIF89a this is not a png at all, just bytes", "empty.png: not a PNG image"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 40, "empty.png: not a PNG image"),
        (_png_header_only(28, 28) + b"garbage bytes here", "empty.png: corrupt or truncated PNG"),
        (_png_header_only(28, 28), r"empty.png: truncated PNG \(no IEND chunk\)"),
        (_png_header_only(29, 28), r"empty.png: oversized image 29x28; the model takes 28x28"),
        # Declares 100000x100000: refused from the header, never decompressed.
        (_png_header_only(100_000, 100_000), "oversized image 100000x100000"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (payloads.MAX_FILE_BYTES), "too large"),
    ],
    ids=["empty", "gif", "jpeg", "garbage-chunk", "no-iend", "29x28", "huge-header", "too-many-bytes"],
)
def test_image_from_png_refuses_bad_bytes(data, message):
    # Each case is a clear PayloadError, never a slow or crashing decode.
    with pytest.raises(PayloadError, match=message):
        payloads.image_from_png(data, "empty.png")


def test_image_from_png_refuses_a_real_oversized_and_a_small_image():
    with pytest.raises(PayloadError, match="oversized image 56x56"):
        payloads.image_from_png(_png(np.zeros((56, 56), np.uint8)), "big.png")
    with pytest.raises(PayloadError, match="small.png: image is 20x20; the model takes 28x28"):
        payloads.image_from_png(_png(np.zeros((20, 20), np.uint8)), "small.png")


def test_image_from_png_refuses_a_bad_checksum(good_images):
    data = bytearray(_png(good_images[0]))
    data[-20] ^= 0xFF  # inside the image data chunk
    with pytest.raises(PayloadError, match="x.png: corrupt PNG"):
        payloads.image_from_png(bytes(data), "x.png")


def test_image_from_png_refuses_16_bit():
    with pytest.raises(PayloadError, match="deep.png: uint16 PNG; expected 8-bit"):
        payloads.image_from_png(_png(np.zeros((28, 28), np.uint16)), "deep.png")


def test_load_png_files_names_the_bad_file(tmp_path, good_images):
    good = tmp_path / "good.png"
    good.write_bytes(_png(good_images[0]))
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    images, names = payloads.load_png_files([good])
    assert names == [str(good)]
    np.testing.assert_array_equal(images[0], good_images[0])
    with pytest.raises(PayloadError, match=f"{text}: not a PNG image"):
        payloads.load_png_files([good, text])
    with pytest.raises(PayloadError, match="missing.png: cannot read file"):
        payloads.load_png_files([tmp_path / "missing.png"])


def test_load_dataset_indices_reads_images_and_labels(tiny_idx_dir):
    from data import fashion_mnist as fm
    from data.idx import read_idx_images, read_idx_labels

    images, names, labels = payloads.load_dataset_indices(tiny_idx_dir, "test", [3, 0])
    all_images = read_idx_images(tiny_idx_dir / f"{fm.TEST_IMAGES}.gz")
    all_labels = read_idx_labels(tiny_idx_dir / f"{fm.TEST_LABELS}.gz")
    np.testing.assert_array_equal(images, all_images[[3, 0]])
    assert names == ["test[3]", "test[0]"]
    assert labels == [int(all_labels[3]), int(all_labels[0])]


def test_load_dataset_indices_refuses_an_index_outside_the_split(tiny_idx_dir):
    with pytest.raises(PayloadError, match=r"index 40 is outside the test split \(0-39\)"):
        payloads.load_dataset_indices(tiny_idx_dir, "test", [0, 40])
    with pytest.raises(PayloadError, match="index -1"):
        payloads.load_dataset_indices(tiny_idx_dir, "test", [-1])


def test_serialize_examples_holds_the_png_image_and_no_label(good_images):
    serialized = serialize_examples(good_images.astype(np.float32), ["a", "b", "c"])
    assert len(serialized) == 3
    example = tf.train.Example.FromString(serialized[1])
    features = example.features.feature
    assert examples.LABEL_KEY not in features
    np.testing.assert_array_equal(
        examples.decode_png(features[examples.IMAGE_KEY].bytes_list.value[0]), good_images[1]
    )
    assert features[examples.ID_KEY].bytes_list.value[0] == b"b"
    assert features[examples.HEIGHT_KEY].int64_list.value[0] == 28
