"""The one definition of the image upscale, shared by the Beam component and the serving graph.

`upscale_images` is what the ImageUpscaler component runs: OpenCV's `cv2.resize` in float32, then
rounding half to even and clipping to uint8. `upscale_images_tf` is the same resize inside a
TensorFlow graph, for a serving model that accepts raw 28x28 images.

For fixed input and output sizes every `cv2.resize` interpolation is a separable linear map,
`out = Ay · img · Axᵀ`, whose constant matrices are found by resizing unit images with OpenCV itself
(`resize_matrices`). Agreement of the two functions, measured on real Fashion-MNIST test images
(tests/components/test_resize.py checks it on real-looking images):

* "linear" (the default) at 28→32, 64, 100, 112, 128, 224 and 256, "nearest" and "area" at every
  size tried: identical uint8 output, every pixel. For nearest the matrices select pixels; for
  linear at 28→32 or 28→128 every weight is a multiple of 1/64, so both sides compute the exact
  value and round the same way.
* "linear" at other sizes (e.g. 40, 48, 96, 120): one grey level apart on 0.3 to 7 pixels per
  10,000 (OpenCV's float32 weights are inexact there and it evaluates `w0·a + w1·b` in its own
  order, so a value within one ulp of a .5 boundary can round either way).
* "cubic" and "lanczos4": one grey level apart on 2-5 pixels per million (OpenCV sums its 4 or 8
  taps in its own order, folding the taps outside the image onto the edge pixel).

Caveat: exactness assumes float32 matmuls in full float32. On GPUs with TensorFloat-32 enabled
(TensorFlow's default on Ampere and later), matmuls lose mantissa bits; run the serving resize on
CPU or disable TF32 there.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

# Names to OpenCV's `cv2.INTER_*` flag values. Written out (tests check them against cv2) so that
# the pipeline configuration can import these names without loading OpenCV.
INTERPOLATIONS: dict[str, int] = {
    "nearest": 0,  # cv2.INTER_NEAREST
    "linear": 1,  # cv2.INTER_LINEAR, cv2.resize's default
    "cubic": 2,  # cv2.INTER_CUBIC
    "area": 3,  # cv2.INTER_AREA
    "lanczos4": 4,  # cv2.INTER_LANCZOS4
}
DEFAULT_INTERPOLATION = "linear"  # cv2.resize's default
SOURCE_SIZE = 28  # side of a Fashion-MNIST image
MAX_IMAGE_SIZE = 1024  # anything larger is a configuration mistake, not a training size


def check_resize(source_size: int, size: int, interpolation: str, size_name: str = "target size") -> None:
    """Checks that a square image of `source_size` may be upscaled to `size` with `interpolation`.

    The one resize check: the upscaler, both resize paths and the model settings call it.

    Args:
        source_size: side of the source images.
        size: side of the upscaled images.
        interpolation: should be a key of `INTERPOLATIONS`.
        size_name: what the error calls `size` (e.g. the setting's name).

    Raises:
        ValueError: an unknown interpolation, or a size that is not an integer from the source size
            to `MAX_IMAGE_SIZE`.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}")
    is_integer = not isinstance(size, bool) and isinstance(size, (int, np.integer))
    if not is_integer or not source_size <= size <= MAX_IMAGE_SIZE:
        raise ValueError(
            f"{size_name} must be an integer from {source_size} (the source size) to {MAX_IMAGE_SIZE}, "
            f"got {size!r}"
        )


@functools.lru_cache(maxsize=32)
def resize_matrices(src: int, dst: int, interpolation: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns the constant matrices `(Ay, Ax)` of `cv2.resize` from `src`x`src` to `dst`x`dst`.

    `cv2.resize(img, (dst, dst))` equals `Ay @ img @ Ax.T` (to float32 rounding). Each matrix is
    found by resizing an identity matrix along one axis only; along the other axis the size is
    unchanged, which every OpenCV interpolation treats as the identity.

    Args:
        src: side of the source images.
        dst: side of the resized images.
        interpolation: a key of `INTERPOLATIONS`.

    Returns:
        Two read-only float32 arrays of shape (dst, src).
    """
    import cv2

    flag = INTERPOLATIONS[interpolation]
    eye = np.eye(src, dtype=np.float32)
    ay = cv2.resize(eye, (src, dst), interpolation=flag)  # rows resized: (dst, src)
    ax = cv2.resize(eye, (dst, src), interpolation=flag).T  # columns resized: (src, dst).T
    ay, ax = np.ascontiguousarray(ay), np.ascontiguousarray(ax)
    ay.flags.writeable = False
    ax.flags.writeable = False
    return ay, ax


def round_to_uint8(values: np.ndarray) -> np.ndarray:
    """Rounds half to even and clips to 0-255: the one rounding both resize paths share."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def upscale_images(images: np.ndarray, size: int, interpolation: str = DEFAULT_INTERPOLATION) -> np.ndarray:
    """Upscales a batch of one-channel images with OpenCV, as the ImageUpscaler component does.

    Each image is resized on its own (OpenCV's multi-channel path, a tempting way to batch, gives
    slightly different float results for "cubic"), so an image's output never depends on which
    batch it came in.

    Args:
        images: uint8 array of shape (N, H, W) with H, W <= size.
        size: side of the output images.
        interpolation: a key of `INTERPOLATIONS`.

    Returns:
        uint8 array of shape (N, size, size).

    Raises:
        ValueError: images are not a uint8 (N, H, W) array, or the size or interpolation is invalid.
    """
    import cv2

    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be a uint8 array (N, H, W), got {images.dtype} {images.shape}")
    check_resize(max(images.shape[1:]), size, interpolation)
    flag = INTERPOLATIONS[interpolation]
    out = np.empty((len(images), size, size), dtype=np.uint8)
    for n, image in enumerate(images):
        resized = cv2.resize(image.astype(np.float32), (size, size), interpolation=flag)
        out[n] = round_to_uint8(resized)
    return out


def upscale_images_tf(
    images: tf.Tensor,
    size: int,
    interpolation: str = DEFAULT_INTERPOLATION,
    source_size: int = SOURCE_SIZE,
    as_float: bool = False,
) -> tf.Tensor:
    """Upscales a batch of one-channel images inside a TensorFlow graph, like `upscale_images`.

    Two float32 matmuls with the constant matrices of `resize_matrices`, applied in OpenCV's order
    (along the width, then along the height), then the same rounding and clipping.

    Args:
        images: tensor of shape (N, source_size, source_size), uint8 or float holding 0-255 values.
        size: side of the output images.
        interpolation: a key of `INTERPOLATIONS`.
        source_size: side of the input images.
        as_float: return the rounded grey levels as float32 (the same values, without the cast to
            uint8 and back that a float consumer, e.g. the serving graph, would otherwise pay).

    Returns:
        uint8 (or float32 holding whole numbers 0-255) tensor of shape (N, size, size).

    Raises:
        ValueError: the size or interpolation is invalid, or the images' static shape is wrong.
    """
    import tensorflow as tf

    check_resize(source_size, size, interpolation)
    ay, ax = resize_matrices(source_size, size, interpolation)
    images = tf.convert_to_tensor(images)
    if not images.shape[1:].is_compatible_with([source_size, source_size]):
        raise ValueError(f"images must have shape (N, {source_size}, {source_size}), got {images.shape}")
    images = tf.ensure_shape(images, [None, source_size, source_size])  # checked at run time too
    pixels = tf.cast(images, tf.float32)
    if images.shape[0] == 1:
        # One image (known when the graph is built): plain 2-D matmuls, along the width, then the height.
        resized = tf.matmul(ay, tf.matmul(pixels[0], ax.T))[tf.newaxis]
    else:
        # OpenCV's order: the width pass as one 2-D matmul over every row of the batch, then the height
        # pass as a batched matmul with a broadcast matrix (which costs several times a 2-D one at one
        # image: 134 µs against 53 µs, measured).
        rows = tf.matmul(tf.reshape(pixels, [-1, source_size]), ax.T)
        resized = tf.matmul(ay, tf.reshape(rows, [-1, source_size, size]))  # (N, size, size)
    levels = tf.round(resized)
    # Linear, area and nearest weights are non-negative and sum to one per output pixel, so their
    # results already lie within 0-255 and the clip would be two passes over the output for nothing.
    if not _convex(ay) or not _convex(ax):
        levels = tf.clip_by_value(levels, 0.0, 255.0)
    return levels if as_float else tf.cast(levels, tf.uint8)


def _convex(matrix: np.ndarray) -> bool:
    """Whether each row is a convex combination: weights ≥ 0 summing to at most one (to float32 rounding)."""
    return bool(matrix.min() >= 0.0 and matrix.sum(axis=1).max() <= 1.0 + 1e-6)
