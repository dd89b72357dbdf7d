"""A TFRecord reader that checks every frame (length, both CRCs, a size budget) before allocating it.

TensorFlow's own reader trusts a record's length field once its CRC matches: a 112-byte file whose one
frame claims a terabyte makes it allocate that much and crash the process. Here a length is checked
against the bytes left in the file (uncompressed files) and against `MAX_RECORD_BYTES` (every file,
compressed ones included, where the size left is unknown) before a single byte of the record is read,
and every failure names the file, the record and its byte offset in one line.

Framing (TensorFlow's `core/lib/io/record_writer.cc`): uint64 length (little-endian), uint32 masked
CRC-32C of those 8 bytes, the data, uint32 masked CRC-32C of the data.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import google_crc32c

from serving.payloads import PayloadError
from serving.signatures import MAX_PNG_BYTES

# One tf.Example of the serving contract: a PNG of at most MAX_PNG_BYTES plus an id and a label. Any
# longer frame is refused before it is read (for a compressed file this is the only bound available).
MAX_RECORD_BYTES = MAX_PNG_BYTES + (64 << 10)
HEADER_BYTES = 12  # uint64 length + uint32 masked CRC of the length
FOOTER_BYTES = 4  # uint32 masked CRC of the data
GZIP_SUFFIX = ".gz"
_CRC_MASK_DELTA = 0xA282EAD8


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC-32C of `data` (rotated right by 15 bits, plus a constant)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    """One TFRecord frame holding `data` (what `tf.io.TFRecordWriter` writes for it)."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))


def _read_exactly(stream: BinaryIO, count: int) -> bytes:
    chunks, remaining = [], count
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frames(stream: BinaryIO, name: str, size: int | None) -> Iterator[bytes]:
    """Yields the data of each frame in a TFRecord stream, checking every frame before allocating it.

    Args:
        stream: the (decompressed) bytes of the file, read from the start.
        name: the file's name for messages.
        size: the stream's length in bytes when known (uncompressed files), else None.

    Raises:
        PayloadError: a truncated frame, a CRC mismatch, or a length beyond the bytes left in the file
            or beyond `MAX_RECORD_BYTES`; the message names the file, the record and its byte offset.
    """
    offset = index = 0
    while True:
        where = f"{name}: damaged TFRecord file at record {index} (byte {offset})"
        header = _read_exactly(stream, HEADER_BYTES)
        if not header:
            return
        if len(header) < HEADER_BYTES:
            raise PayloadError(f"{where}: truncated frame header ({len(header)} of {HEADER_BYTES} bytes)")
        (length,) = struct.unpack("<Q", header[:8])
        (length_crc,) = struct.unpack("<I", header[8:])
        if masked_crc(header[:8]) != length_crc:
            raise PayloadError(f"{where}: length checksum mismatch (not a TFRecord file, or corrupt)")
        left = None if size is None else size - offset - HEADER_BYTES - FOOTER_BYTES
        if left is not None and length > left:
            raise PayloadError(f"{where}: the frame claims {length} bytes, only {max(left, 0)} are left")
        if length > MAX_RECORD_BYTES:
            raise PayloadError(
                f"{where}: the frame claims {length} bytes, more than the {MAX_RECORD_BYTES} bytes a "
                "tf.Example of one PNG may take"
            )
        body = _read_exactly(stream, length + FOOTER_BYTES)
        if len(body) < length + FOOTER_BYTES:
            raise PayloadError(f"{where}: truncated record ({len(body)} of {length + FOOTER_BYTES} bytes)")
        data = body[:length]
        if masked_crc(data) != struct.unpack("<I", body[length:])[0]:
            raise PayloadError(f"{where}: data checksum mismatch (corrupt record)")
        yield data
        offset += HEADER_BYTES + length + FOOTER_BYTES
        index += 1


def read_records(path: str) -> Iterator[bytes]:
    """Yields the records of a TFRecord file (GZIP-compressed when its name ends in `.gz`).

    The file is read through `tf.io.gfile`, so it may be a bucket path.

    Raises:
        PayloadError: the file cannot be read, is not valid GZIP, or a frame is damaged or over budget.
    """
    import tensorflow as tf

    compressed = path.lower().endswith(GZIP_SUFFIX)
    try:
        size = None if compressed else tf.io.gfile.stat(path).length
        with tf.io.gfile.GFile(path, "rb") as raw:
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            yield from read_frames(stream, path, size)
    except (OSError, EOFError, zlib.error, tf.errors.OpError) as err:
        # gzip.BadGzipFile is an OSError; EOFError is a GZIP stream cut short.
        detail = getattr(err, "message", None) or str(err) or type(err).__name__
        kind = "GZIP-compressed TFRecord file" if compressed else "TFRecord file"
        raise PayloadError(f"{path}: unreadable {kind} ({detail.splitlines()[0]})") from err
