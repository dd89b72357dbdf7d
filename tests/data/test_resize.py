"""Tests of the shared resize: OpenCV path, in-graph TensorFlow path, and their agreement."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from data.resize import (
    INTERPOLATIONS,
    check_resize,
    resize_matrices,
    round_to_uint8,
    upscale_images,
    upscale_images_tf,
)

# Measured on 10,000 real Fashion-MNIST test images (see resize.py): cubic and lanczos4 differ by one
# grey level on 2-5 pixels per million. The bound leaves room for a different image sample.
INEXACT_MODES = {"cubic": 2e-5, "lanczos4": 2e-5}


def garment_like_images(count: int, seed: int, size: int = 28) -> np.ndarray:
    """Returns uint8 images that look like Fashion-MNIST: a textured, shaded silhouette on black."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    images = np.zeros((count, size, size), dtype=np.uint8)
    for n in range(count):
        cy, cx = rng.uniform(9, 19, size=2)
        ry, rx = rng.uniform(5, 13, size=2)
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
        shade = rng.uniform(60, 255) - rng.uniform(0, 4) * np.abs(xx - cx)
        texture = rng.integers(0, 40, size=(size, size)) * (rng.random() < 0.5)
        stripes = 50 * ((yy // rng.integers(2, 5)) % 2) * (rng.random() < 0.3)
        image = np.where(inside, shade + texture - stripes, 0.0)
        images[n] = np.clip(image, 0, 255).astype(np.uint8)
    images[0, 0, :] = 255  # a bright edge, so the border handling is exercised
    return images


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return garment_like_images(300, seed=7)


def test_interpolation_flags_are_opencv_flags():
    for name, flag in INTERPOLATIONS.items():
        assert flag == getattr(cv2, f"INTER_{name.upper()}"), name


@pytest.mark.parametrize("interpolation", list(INTERPOLATIONS))
@pytest.mark.parametrize("size", [128, 32])
def test_tf_resize_agrees_with_opencv(images, interpolation, size):
    expected = upscale_images(images, size, interpolation)
    got = upscale_images_tf(images, size, interpolation).numpy()
    assert got.dtype == np.uint8
    assert got.shape == (len(images), size, size)
    differs = got != expected
    if interpolation in INEXACT_MODES:
        assert differs.mean() <= INEXACT_MODES[interpolation], f"mismatch rate {differs.mean():.2e}"
        assert np.abs(got.astype(int) - expected).max() <= 1
    else:
        assert not differs.any(), f"{int(differs.sum())} pixels differ"


@pytest.mark.parametrize("size", [64, 100, 224])
def test_linear_is_exact_at_other_pipeline_sizes(images, size):
    np.testing.assert_array_equal(upscale_images_tf(images, size).numpy(), upscale_images(images, size))


@pytest.mark.parametrize("size", [40, 96])
def test_linear_at_inexact_sizes_differs_rarely_and_by_one_level(images, size):
    expected = upscale_images(images, size)
    got = upscale_images_tf(images, size).numpy()
    assert (got != expected).mean() <= 1e-3
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_default_linear_is_exact_on_many_images():
    images = garment_like_images(2000, seed=11)
    float_out = cv2.resize(images[:50].transpose(1, 2, 0).astype(np.float32), (128, 128))
    assert np.any(float_out % 1 == 0.5)  # exact ties occur, so both sides' rounding is exercised
    np.testing.assert_array_equal(upscale_images_tf(images, 128).numpy(), upscale_images(images, 128))


def test_tf_resize_accepts_float_pixels(images):
    as_uint8 = upscale_images_tf(images[:20], 64).numpy()
    as_float = upscale_images_tf(images[:20].astype(np.float32), 64).numpy()
    np.testing.assert_array_equal(as_float, as_uint8)


@pytest.mark.parametrize("interpolation", list(INTERPOLATIONS))
def test_matrices_reproduce_opencv_float_result(images, interpolation):
    ay, ax = resize_matrices(28, 128, interpolation)
    assert ay.shape == ax.shape == (128, 28)
    image = images[3].astype(np.float32)
    expected = cv2.resize(image, (128, 128), interpolation=INTERPOLATIONS[interpolation])
    np.testing.assert_allclose(ay @ image @ ax.T, expected, atol=1e-3)


def test_rounding_is_half_to_even_and_clipped():
    values = np.array([-3.0, 0.5, 1.5, 2.5, 254.5, 255.5, 300.0])
    np.testing.assert_array_equal(round_to_uint8(values), [0, 0, 2, 2, 254, 255, 255])


def test_upscale_is_independent_of_batching(images):
    together = upscale_images(images[:16], 128, "cubic")
    alone = np.concatenate([upscale_images(images[n : n + 1], 128, "cubic") for n in range(16)])
    np.testing.assert_array_equal(together, alone)


@pytest.mark.parametrize(
    "size, interpolation, message",
    [
        (27, "linear", "from 28 \\(the source size\\) to 1024, got 27"),
        (1025, "linear", "from 28 \\(the source size\\) to 1024, got 1025"),
        (64, "bilinear", "interpolation must be one of"),
        (64.0, "linear", "target size must be an integer .* got 64.0"),
    ],
)
def test_invalid_resize_is_refused(size, interpolation, message):
    with pytest.raises(ValueError, match=message):
        check_resize(28, size, interpolation)
    with pytest.raises(ValueError, match=message):
        upscale_images(np.zeros((1, 28, 28), np.uint8), size, interpolation)
    with pytest.raises(ValueError, match=message):
        upscale_images_tf(np.zeros((1, 28, 28), np.uint8), size, interpolation)


@pytest.mark.parametrize("bad", [np.zeros((1, 28, 28), np.float32), np.zeros((28, 28), np.uint8)])
def test_upscale_refuses_wrong_dtype_or_shape(bad):
    with pytest.raises(ValueError, match=r"uint8 array \(N, H, W\)"):
        upscale_images(bad, 64)


def test_tf_resize_refuses_wrong_source_size():
    with pytest.raises(ValueError, match=r"shape \(N, 28, 28\)"):
        upscale_images_tf(np.zeros((1, 30, 30), np.uint8), 64)


@pytest.mark.parametrize("interpolation", sorted(INTERPOLATIONS))
def test_one_image_takes_the_same_pixels_as_in_a_batch(interpolation):
    """The served graph upscales one image with plain 2-D matmuls and a batch with batched ones."""
    images = garment_like_images(300, seed=13)
    batch = upscale_images_tf(images, 128, interpolation).numpy()
    for n in (0, 1, 150, 299):  # a static batch of one: the 2-D matmuls
        np.testing.assert_array_equal(
            upscale_images_tf(images[n : n + 1], 128, interpolation).numpy(), batch[n : n + 1]
        )
    if interpolation in ("linear", "nearest", "area"):
        np.testing.assert_array_equal(batch, upscale_images(images, 128, interpolation))
