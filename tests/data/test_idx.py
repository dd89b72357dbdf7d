"""IDX parsing: good files round-trip, and every malformed file gets an error naming it."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from data.idx import (
    IdxFormatError,
    read_idx_images,
    read_idx_labels,
    read_idx_pair,
    write_idx,
)


def test_round_trip_gzip_and_raw(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "img.gz", images)
    write_idx(tmp_path / "img", images, compress=False)
    np.testing.assert_array_equal(read_idx_images(tmp_path / "img.gz"), images)
    np.testing.assert_array_equal(read_idx_images(tmp_path / "img"), images)


def test_header_is_big_endian_with_standard_magic(tmp_path):
    write_idx(tmp_path / "lab.gz", np.arange(10, dtype=np.uint8))
    content = gzip.decompress((tmp_path / "lab.gz").read_bytes())
    assert struct.unpack(">II", content[:8]) == (2049, 10)


def _labels_file(tmp_path, content: bytes, name="labels.gz"):
    path = tmp_path / name
    path.write_bytes(gzip.compress(content))
    return path


def test_missing_file(tmp_path):
    with pytest.raises(IdxFormatError, match=r"nope\.gz: file not found"):
        read_idx_images(tmp_path / "nope.gz")


def test_not_gzip(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(b"this is plain text, not gzip")
    with pytest.raises(IdxFormatError, match=r"images\.gz: not a gzip file"):
        read_idx_images(path)


def test_truncated_gzip(tmp_path):
    write_idx(tmp_path / "images.gz", np.zeros((20, 28, 28), dtype=np.uint8))
    data = (tmp_path / "images.gz").read_bytes()
    (tmp_path / "images.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(IdxFormatError, match=r"images\.gz: truncated or corrupt gzip"):
        read_idx_images(tmp_path / "images.gz")


def test_wrong_magic(tmp_path):
    write_idx(tmp_path / "images.gz", np.zeros((3, 28, 28), dtype=np.uint8))
    # A labels file where an images file is expected.
    with pytest.raises(IdxFormatError, match=r"labels\.gz: wrong magic number 2051, expected 2049"):
        read_idx_labels(_labels_file(tmp_path, gzip.decompress((tmp_path / "images.gz").read_bytes())))


def test_dimensions_disagree_with_header(tmp_path):
    header = struct.pack(">IIII", 2051, 10, 28, 28)
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(header + bytes(9 * 28 * 28)))
    with pytest.raises(
        IdxFormatError, match=r"images\.gz: header declares dimensions 10x28x28 .* holds 7056 bytes"
    ):
        read_idx_images(path)


def test_count_mismatch(tmp_path):
    write_idx(tmp_path / "images.gz", np.zeros((4, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "labels.gz", np.zeros(5, dtype=np.uint8))
    with pytest.raises(IdxFormatError, match=r"images\.gz holds 4 images but .*labels\.gz holds 5 labels"):
        read_idx_pair(tmp_path / "images.gz", tmp_path / "labels.gz")


def test_label_out_of_range(tmp_path):
    write_idx(tmp_path / "labels.gz", np.array([0, 9, 10, 3], dtype=np.uint8))
    with pytest.raises(IdxFormatError, match=r"labels\.gz: label 10 at index 2 is outside 0-9"):
        read_idx_labels(tmp_path / "labels.gz")
