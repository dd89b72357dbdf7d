"""Reading IDX files (the format of the MNIST family) into NumPy arrays, with clear errors."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051  # unsigned byte, 3 dimensions
LABELS_MAGIC = 2049  # unsigned byte, 1 dimension


class IdxFormatError(ValueError):
    """An IDX file is missing, unreadable or malformed; the message names the file."""


def read_bytes(path: str | Path) -> bytes:
    """Returns the decompressed content of an IDX file, gzip-compressed or not.

    Args:
        path: a `.gz` file or a raw IDX file.

    Raises:
        IdxFormatError: the file is missing or is a broken gzip stream.
    """
    path = Path(path)
    if not path.is_file():
        raise IdxFormatError(f"{path}: file not found")
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    if raw[:2] != b"\x1f\x8b":
        raise IdxFormatError(f"{path}: not a gzip file (it does not start with the gzip magic bytes)")
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:
        raise IdxFormatError(f"{path}: truncated or corrupt gzip data ({err})") from err


def parse_idx(content: bytes, expected_magic: int, source: str) -> np.ndarray:
    """Parses decompressed IDX content into a uint8 array.

    Args:
        content: the decompressed bytes.
        expected_magic: `IMAGES_MAGIC` or `LABELS_MAGIC`.
        source: the file name to put in error messages.

    Returns:
        An array of shape (count, rows, cols) for images or (count,) for labels.

    Raises:
        IdxFormatError: wrong magic number, or a payload whose size differs from the header's.
    """
    if len(content) < 4:
        raise IdxFormatError(f"{source}: too short to hold an IDX header ({len(content)} bytes)")
    (magic,) = struct.unpack(">I", content[:4])
    if magic != expected_magic:
        kind = "images" if expected_magic == IMAGES_MAGIC else "labels"
        raise IdxFormatError(
            f"{source}: wrong magic number {magic}, expected {expected_magic} for an IDX {kind} file"
        )
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise IdxFormatError(f"{source}: header truncated ({len(content)} of {header_size} bytes)")
    dims = struct.unpack(f">{ndim}I", content[4:header_size])
    expected = int(np.prod(dims, dtype=np.int64))
    payload = len(content) - header_size
    if payload != expected:
        raise IdxFormatError(
            f"{source}: header declares dimensions {'x'.join(map(str, dims))} ({expected} bytes) "
            f"but the file holds {payload} bytes of data"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_size).reshape(dims)


def read_idx_images(path: str | Path) -> np.ndarray:
    """Reads an IDX images file into a uint8 array of shape (count, rows, cols)."""
    return parse_idx(read_bytes(path), IMAGES_MAGIC, str(path))


def check_labels(labels: np.ndarray, source: str, num_classes: int = 10) -> np.ndarray:
    """Returns `labels` if every one is a class id.

    Raises:
        IdxFormatError: a label outside 0..num_classes-1, naming `source` and the first such index.
    """
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        raise IdxFormatError(
            f"{source}: label {int(labels[bad[0]])} at index {int(bad[0])} is outside 0-{num_classes - 1} "
            f"({bad.size} such labels)"
        )
    return labels


def read_idx_labels(path: str | Path, num_classes: int = 10) -> np.ndarray:
    """Reads an IDX labels file into a uint8 array, checking every label is a class id.

    Raises:
        IdxFormatError: as `parse_idx`, or a label outside 0..num_classes-1.
    """
    return check_labels(parse_idx(read_bytes(path), LABELS_MAGIC, str(path)), str(path), num_classes)


def parse_idx_pair(
    images_content: bytes, labels_content: bytes, images_source: str, labels_source: str
) -> tuple[np.ndarray, np.ndarray]:
    """Parses matching decompressed images and labels contents, checking labels and counts.

    Args:
        images_content, labels_content: the decompressed bytes (as `read_bytes` returns them).
        images_source, labels_source: the file names to put in error messages.

    Raises:
        IdxFormatError: as `parse_idx`, a label that is not a class id, or counts that differ.
    """
    images = parse_idx(images_content, IMAGES_MAGIC, images_source)
    labels = check_labels(parse_idx(labels_content, LABELS_MAGIC, labels_source), labels_source)
    if len(images) != len(labels):
        raise IdxFormatError(
            f"{images_source} holds {len(images)} images but {labels_source} holds {len(labels)} labels"
        )
    return images, labels


def read_idx_pair(images_path: str | Path, labels_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads matching images and labels files, checking that their counts agree."""
    return parse_idx_pair(
        read_bytes(images_path), read_bytes(labels_path), str(images_path), str(labels_path)
    )


def write_idx(path: str | Path, array: np.ndarray, compress: bool = True) -> None:
    """Writes a uint8 array as an IDX file (used by tests and tools to make fixtures)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = 0x0800 | array.ndim
    content = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    Path(path).write_bytes(gzip.compress(content, mtime=0) if compress else content)
