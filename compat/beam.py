"""Apache Beam's private TFRecord framing: reading and writing one record on an open Beam file.

`ReadFromTFRecord` / `WriteToTFRecord` use the same code (crc32c by crcmod's C extension); the upscaler
calls it directly to keep each file's record order. Checked against apache-beam 2.61.0.
`tests/components/test_upscaler.py` (the executor's round trip through gzip TFRecords) fails if it changes.
"""

from __future__ import annotations

from apache_beam.io.tfrecordio import _TFRecordUtil


def read_record(source) -> bytes | None:
    """Returns the next record of an open (decompressing) Beam file, or None at its end."""
    return _TFRecordUtil.read_record(source)


def write_record(sink, record: bytes) -> None:
    """Appends one framed record to an open (compressing) Beam file."""
    _TFRecordUtil.write_record(sink, record)
