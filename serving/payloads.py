"""Validating client inputs and turning PNG files or dataset indices into a [N, 28, 28] float32 batch."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import math
import os
import stat
import struct
import sys
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from data import examples
from data.resize import SOURCE_SIZE
from serving.signatures import MAX_BATCH, MAX_PNG_BYTES, PNG_SIGNATURE

MAX_FILE_BYTES = MAX_PNG_BYTES
_log = logging.getLogger(__name__)


class PayloadError(ValueError):
    """A client input cannot be sent to the model; the message names the item and what is wrong."""


@dataclasses.dataclass(frozen=True)
class Payload:
    """A validated batch ready for any backend.

    Attributes:
        images: float32 array of shape [N, 28, 28] holding grey levels 0-255.
        names: one label per image for messages and output (a file name or `test[17]`).
        labels: the true class id of each image when known (dataset indices), else None.
    """

    images: np.ndarray
    names: tuple[str, ...]
    labels: tuple[int | None, ...]

    def __len__(self) -> int:
        return len(self.names)


def _item(names: Sequence[str] | None, index: int) -> str:
    return names[index] if names is not None and index < len(names) else f"item {index}"


def validate_batch(images, names: Sequence[str] | None = None, max_batch: int = MAX_BATCH) -> np.ndarray:
    """Checks a batch of images against the `predict_images` contract and returns it as float32.

    Args:
        images: array-like of shape [N, 28, 28] with grey levels 0-255 (integer or float dtype).
        names: optional per-image labels used in error messages.
        max_batch: the largest number of images accepted in one request.

    Returns:
        A float32 array of shape [N, 28, 28].

    Raises:
        PayloadError: empty or oversized batch, wrong shape, non-numeric dtype, or values that are
            not finite grey levels in 0-255.
    """
    try:
        array = np.asarray(images)
    except ValueError as err:  # ragged nested lists
        raise PayloadError(
            f"wrong shape: images must form an array of shape [N, {SOURCE_SIZE}, {SOURCE_SIZE}] ({err})"
        ) from err
    if array.dtype == object:
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise PayloadError(f"wrong dtype: images must be numeric grey levels ({err})") from err
    if array.ndim >= 1 and array.shape[0] == 0:
        raise PayloadError("empty batch: give at least one image")
    if array.ndim != 3 or array.shape[1:] != (SOURCE_SIZE, SOURCE_SIZE):
        raise PayloadError(
            f"wrong shape {list(array.shape)}: expected [N, {SOURCE_SIZE}, {SOURCE_SIZE}] "
            "(a batch of one-channel 28x28 images)"
        )
    if len(array) > max_batch:
        raise PayloadError(f"oversized batch: {len(array)} images, at most {max_batch} per request")
    if array.dtype.kind not in "uif":
        raise PayloadError(
            f"wrong dtype {array.dtype}: expected grey levels as an integer or float array (uint8 or float32)"
        )
    values = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(values) | (values < 0) | (values > 255)
    if bad.any():
        index = int(np.flatnonzero(bad.reshape(len(values), -1).any(axis=1))[0])
        seen = values[index][~np.isnan(values[index])]  # an all-NaN image has no range (and no warning)
        low, high = (float(seen.min()), float(seen.max())) if seen.size else (math.nan, math.nan)
        raise PayloadError(
            f"{_item(names, index)}: grey levels must be finite values in 0-255, found range "
            f"{low:g}..{high:g}"
        )
    return values.astype(np.float32)


def png_dimensions(data: bytes, name: str) -> tuple[int, int]:
    """Returns (height, width) from a PNG header without decoding the pixels.

    Raises:
        PayloadError: the bytes are not a PNG image.
    """
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise PayloadError(f"{name}: not a PNG image (missing PNG signature / IHDR header)")
    width, height = struct.unpack(">II", data[16:24])
    return height, width


def check_png_chunks(data: bytes, name: str) -> None:
    """Walks the PNG chunk list, checking each chunk's length and CRC, up to IEND.

    Done before decoding because OpenCV trusts a corrupt chunk length and can spend seconds (and
    gigabytes) on a few bytes of garbage.

    Raises:
        PayloadError: a truncated or corrupt PNG.
    """
    position = len(PNG_SIGNATURE)
    while position + 12 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data):
            raise PayloadError(
                f"{name}: corrupt or truncated PNG (chunk {kind!r} claims {length} bytes, "
                f"{len(data) - position - 12} left)"
            )
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[position + 4 : end - 4]) != crc:
            raise PayloadError(f"{name}: corrupt PNG (checksum mismatch in chunk {kind!r})")
        if kind == b"IEND":
            return
        position = end
    raise PayloadError(f"{name}: truncated PNG (no IEND chunk)")


@contextlib.contextmanager
def _native_stderr_to(captured: list[str], limit: int = 4096) -> Iterator[None]:
    """Catches what native code (libpng inside OpenCV) writes to file descriptor 2 while the block runs.

    libpng prints its warnings and errors straight to stderr, beside the tool's own one-line messages;
    they go into the error message or the log instead. The first `limit` bytes are appended to
    `captured`.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read(limit).decode(errors="replace"))


def image_from_png(data: bytes, name: str) -> np.ndarray:
    """Decodes PNG bytes into a 28x28 uint8 grey image, refusing anything else with a clear message.

    Colour PNGs (RGB or RGBA, 8-bit) are converted to grey; other bit depths are refused.

    Raises:
        PayloadError: not a PNG, too large (in bytes or pixels), wrong size, or unsupported depth.
    """
    if not data:
        raise PayloadError(f"{name}: empty file, not a PNG image")
    if len(data) > MAX_FILE_BYTES:
        raise PayloadError(f"{name}: {len(data)} bytes is too large for a {SOURCE_SIZE}x{SOURCE_SIZE} PNG")
    height, width = png_dimensions(data, name)
    # Checked from the header first, so a huge image is refused before it is decompressed.
    if height > SOURCE_SIZE or width > SOURCE_SIZE:
        raise PayloadError(
            f"{name}: oversized image {height}x{width}; the model takes {SOURCE_SIZE}x{SOURCE_SIZE} "
            "(resize it first)"
        )
    check_png_chunks(data, name)
    native: list[str] = []
    try:
        with _native_stderr_to(native):
            image = examples.decode_png(data)
    except ValueError as err:
        said = " ".join(line.strip() for line in native[0].splitlines() if line.strip()) if native else ""
        raise PayloadError(f"{name}: {err}" + (f" ({said})" if said else "")) from err
    if native and native[0].strip():
        _log.debug("%s: libpng said: %s", name, native[0].strip())
    if image.dtype != np.uint8:
        raise PayloadError(f"{name}: {image.dtype} PNG; expected 8-bit grey levels")
    if image.ndim == 3:
        conversion = {3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}.get(image.shape[2])
        if conversion is None:
            raise PayloadError(f"{name}: PNG with {image.shape[2]} channels; expected grey or RGB(A)")
        image = cv2.cvtColor(image, conversion)
    if image.shape != (SOURCE_SIZE, SOURCE_SIZE):
        raise PayloadError(
            f"{name}: image is {image.shape[0]}x{image.shape[1]}; the model takes {SOURCE_SIZE}x{SOURCE_SIZE}"
        )
    return image


def read_limited_file(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """Reads a local regular file of at most `limit` bytes, refusing anything else before reading it.

    A FIFO, a device (`/dev/zero`), a folder or a socket is refused without blocking or reading, and
    at most `limit + 1` bytes are ever read, so a huge (or sparse) file costs nothing.

    Raises:
        PayloadError: missing, unreadable, not a regular file, or larger than `limit`.
    """
    try:
        # Non-blocking, so opening a FIFO with no writer returns at once instead of hanging.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        if err.errno == errno.ENXIO:  # a socket, or a FIFO opened oddly
            raise PayloadError(f"{path}: not a regular file") from err
        raise PayloadError(f"{path}: cannot read file ({err.strerror or err})") from err
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise PayloadError(f"{path}: {kind}; give a PNG file")
        if info.st_size > limit:
            raise PayloadError(
                f"{path}: {info.st_size} bytes is too large for a {SOURCE_SIZE}x{SOURCE_SIZE} PNG"
            )
        chunks, remaining = [], limit + 1
        while remaining > 0:  # the size may change while reading: never trust st_size alone
            chunk = os.read(descriptor, remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as err:
        raise PayloadError(f"{path}: cannot read file ({err.strerror or err})") from err
    finally:
        os.close(descriptor)
    data = b"".join(chunks)
    if len(data) > limit:
        raise PayloadError(
            f"{path}: more than {limit} bytes is too large for a {SOURCE_SIZE}x{SOURCE_SIZE} PNG"
        )
    return data


def load_png_file(path: str | Path) -> np.ndarray:
    """Reads one local PNG file into a uint8 [28, 28] image.

    Raises:
        PayloadError: the file is missing, unreadable, not a regular file or not a usable image.
    """
    return image_from_png(read_limited_file(path), str(path))


def load_png_files(paths: Sequence[str | Path]) -> tuple[np.ndarray, list[str]]:
    """Reads PNG files into a uint8 array [N, 28, 28] and their names.

    Raises:
        PayloadError: a file is missing, unreadable or not a usable image (the message names it).
    """
    images, names = [], []
    for path in map(Path, paths):
        images.append(load_png_file(path))
        names.append(str(path))
    return np.stack(images) if images else np.zeros((0, SOURCE_SIZE, SOURCE_SIZE), np.uint8), names


def load_dataset_indices(
    data_dir: str | Path | None, split: str, indices: Sequence[int]
) -> tuple[np.ndarray, list[str], list[int]]:
    """Reads images by index from the Fashion-MNIST IDX files.

    Args:
        data_dir: folder with the four IDX files, or None to find them as `fashion-tfx data` does.
        split: `train` or `test` (the original IDX files; the pipeline's `eval` is carved from train).
        indices: positions in that file.

    Returns:
        (images [N, 28, 28] uint8, names such as `test[17]`, true labels).

    Raises:
        PayloadError: an unknown split or an index outside the file.
        DatasetError: the data cannot be found (no download is attempted).
    """
    from data import fashion_mnist as fm
    from data.idx import IdxFormatError, read_idx_images, read_idx_labels

    files = {"train": (fm.TRAIN_IMAGES, fm.TRAIN_LABELS), "test": (fm.TEST_IMAGES, fm.TEST_LABELS)}
    if split not in files:
        raise PayloadError(f"unknown split {split!r}; choose train or test")
    # predict only reads images to classify (nothing is trained or blessed), so other IDX data is fine.
    location = fm.locate(data_dir, allow_foreign=True, allow_download=False)
    try:
        all_images = read_idx_images(fm.file_path(location.directory, files[split][0]))
        all_labels = read_idx_labels(fm.file_path(location.directory, files[split][1]))
    except IdxFormatError as err:
        raise fm.DatasetError(str(err)) from err
    for index in indices:
        if not 0 <= index < len(all_images):
            raise PayloadError(f"index {index} is outside the {split} split (0-{len(all_images) - 1})")
    chosen = list(indices)
    names = [f"{split}[{i}]" for i in chosen]
    return all_images[chosen], names, [int(all_labels[i]) for i in chosen]


def make_payload(
    images, names: Sequence[str], labels: Sequence[int | None] | None = None, max_batch: int = MAX_BATCH
) -> Payload:
    """Validates a batch and wraps it with its names and (optional) true labels."""
    batch = validate_batch(images, names, max_batch=max_batch)
    if len(names) != len(batch):
        raise PayloadError(f"{len(names)} names given for {len(batch)} images")
    labels = tuple(labels) if labels is not None else (None,) * len(batch)
    return Payload(images=batch, names=tuple(names), labels=labels)
