"""The served `serving_default` graph enforces the client's PNG contract itself (what TF Serving receives)."""

from __future__ import annotations

import resource
import struct
import time
import zlib

import cv2
import numpy as np
import pytest

from data.examples import serialize_examples
from serving import payloads
from serving.local import LocalModel
from serving.signatures import MAX_PNG_BYTES, ServingError


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def declared_png(height: int, width: int) -> bytes:
    """A valid grey 8-bit PNG of height×width zeros: 20000×20000 is 400 MB of pixels in ~400 KB."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (width + 1)  # filter byte + pixels
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return payloads.PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _encoded(extension: str, image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(extension, image)
    assert ok
    return buffer.tobytes()


GOOD = _encoded(".png", np.arange(784, dtype=np.uint8).reshape(28, 28))
BOMB = declared_png(20000, 20000)
_IDAT = GOOD.find(b"IDAT")
_IDAT_LENGTH = struct.unpack(">I", GOOD[_IDAT - 4 : _IDAT])[0]
BAD_CRC = GOOD[: _IDAT + 4 + _IDAT_LENGTH] + bytes(b ^ 0xFF for b in GOOD[_IDAT + 4 + _IDAT_LENGTH :][:4])
BAD_CRC += GOOD[_IDAT + 8 + _IDAT_LENGTH :]
TRUNCATED = GOOD[: _IDAT + 4 + _IDAT_LENGTH // 2]

# (case, bytes of the `image` feature, what the one-line refusal must say)
CASES = [
    ("16-bit PNG", _encoded(".png", np.full((28, 28), 40000, np.uint16)), "16-bit PNG"),
    ("JPEG bytes", _encoded(".jpg", np.full((28, 28), 90, np.uint8)), "not a PNG image"),
    ("BMP bytes", _encoded(".bmp", np.full((28, 28), 90, np.uint8)), "not a PNG image"),
    ("empty", b"", "not a PNG image"),
    ("truncated header", GOOD[:20], "not a PNG image"),
    ("20000x20000 declared", BOMB, "declares 20000x20000 pixels"),
    ("29x28 PNG", _encoded(".png", np.zeros((29, 28), np.uint8)), "declares 29x28 pixels"),
    ("14x14 PNG", _encoded(".png", np.zeros((14, 14), np.uint8)), "declares 14x14 pixels"),
    ("over 1 MiB", GOOD + b"\0" * MAX_PNG_BYTES, "too large"),
    # Past the header checks, libpng itself refuses corrupt data (TensorFlow's message names no example).
    ("IDAT checksum wrong", BAD_CRC, "Invalid PNG data"),
    ("truncated in IDAT", TRUNCATED, "Invalid PNG data"),
]


@pytest.fixture(scope="module")
def real_model(tiny_model_dir) -> LocalModel:
    return LocalModel(tiny_model_dir)


def _examples(*images: bytes) -> np.ndarray:
    """Serialized examples carrying these bytes as `image`, as a TF Serving client could send them."""
    serialized = serialize_examples(np.zeros((len(images), 28, 28)))
    import tensorflow as tf

    out = []
    for record, image in zip(serialized, images, strict=True):
        example = tf.train.Example.FromString(record)
        example.features.feature["image"].bytes_list.value[0] = image
        out.append(example.SerializeToString())
    return np.array(out, dtype=object)


@pytest.mark.parametrize(("case", "data", "message"), CASES, ids=[c[0] for c in CASES])
def test_served_graph_refuses_what_the_client_refuses(real_model, case, data, message):
    # The client refuses it ...
    with pytest.raises(payloads.PayloadError):
        payloads.image_from_png(data, case)
    # ... and so does the graph, naming the example (the second; the first is good).
    with pytest.raises(ServingError) as refused:
        real_model.call("serving_default", {"examples": _examples(GOOD, data)})
    text = str(refused.value)
    assert "\n" not in text
    assert message in text, text
    assert "example 1" in text or message == "Invalid PNG data", text
    # The model stays usable.
    answer = real_model.call("serving_default", {"examples": _examples(GOOD)})
    assert answer["probabilities"].shape == (1, 10)


def test_a_declared_20000x20000_png_is_refused_without_decoding(real_model):
    assert len(BOMB) < MAX_PNG_BYTES  # a real bomb: within the byte limit, 400 MB once decoded
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.perf_counter()
    with pytest.raises(ServingError, match="declares 20000x20000"):
        real_model.call("serving_default", {"examples": _examples(BOMB)})
    elapsed = time.perf_counter() - started
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert elapsed < 2.0 and grown_mib < 100, f"{elapsed:.2f} s, peak RSS +{grown_mib:.0f} MiB"


def test_good_pngs_still_pass_and_agree_with_predict_images(real_model):
    images = np.stack([np.arange(784).reshape(28, 28) % 256, np.eye(28) * 255]).astype(np.uint8)
    pngs = [_encoded(".png", image) for image in images]
    by_examples = real_model.call("serving_default", {"examples": _examples(*pngs)})
    by_pixels = real_model.call("predict_images", {"images": images.astype(np.float32)})
    np.testing.assert_allclose(by_examples["probabilities"], by_pixels["probabilities"], atol=1e-6)


def _with(index: int, value: float) -> np.ndarray:
    images = np.zeros((3, 28, 28), np.float32)
    images[index, 5, 5] = value
    return images


@pytest.mark.parametrize("signature", ["predict_images", "embed"])
@pytest.mark.parametrize(
    ("images", "named"),
    [(_with(2, np.nan), "image 2"), (_with(0, 300.0), "image 0"), (_with(1, -0.5), "image 1")],
    ids=["NaN", "above 255", "negative"],
)
def test_pixel_signatures_refuse_values_outside_grey_levels(real_model, signature, images, named):
    with pytest.raises(ServingError) as refused:
        real_model.call(signature, {"images": images})
    assert f"{named}: grey levels must lie in [0, 255]" in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("case", "image", "colour_type"),
    [
        ("RGB", np.full((28, 28, 3), (10, 200, 90), np.uint8), 2),
        ("RGBA", np.full((28, 28, 4), (10, 200, 90, 255), np.uint8), 6),
    ],
)
def test_colour_pngs_are_refused_by_the_graph_the_client_converts_them(real_model, case, image, colour_type):
    data = _encoded(".png", image)
    # The client turns a colour file grey itself (OpenCV's formula) and sends a grey PNG ...
    grey = payloads.image_from_png(data, case)
    assert grey.shape == (28, 28)
    # ... while a colour PNG sent straight to the graph would be turned grey by TensorFlow's formula,
    # which differs: refused, naming the example.
    with pytest.raises(ServingError, match=rf"example 1: PNG colour type {colour_type}; expected grey"):
        real_model.call("serving_default", {"examples": _examples(GOOD, data)})


@pytest.mark.parametrize("signature", ["serving_default", "predict_images", "embed"])
def test_an_empty_request_is_refused_in_one_line(real_model, signature):
    inputs = {
        "serving_default": {"examples": np.array([], dtype=object)},
        "predict_images": {"images": np.zeros((0, 28, 28), np.float32)},
        "embed": {"images": np.zeros((0, 28, 28), np.float32)},
    }[signature]
    with pytest.raises(ServingError, match=r"empty request: no (examples|images) \(send at least one\)"):
        real_model.call(signature, inputs)
