"""Property-based fuzzing of every parser at the input boundary (Hypothesis).

Each parser is fed random and mutated bytes: the IDX reader, the PNG checks of served inputs, the
TFRecord framing, the catalogue schema and the REST answer. Whatever comes in, it must either give a
well-formed result or raise the project's own error type (never another exception, which would reach the
user as a traceback), within a deadline (no hang) and a memory budget per example (traced allocations).

`make test` runs a short, derandomised pass (fixed examples, the same on every run); `make fuzz` sets
FASHION_TFX_FUZZ=long for a long randomised one (see docs/reliability.md).
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import tracemalloc
import zlib
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.classes import CLASS_NAMES
from data.examples import encode_png
from data.idx import IMAGES_MAGIC, LABELS_MAGIC, IdxFormatError, parse_idx
from serving.catalogue import INDEX_COLUMNS, read_index
from serving.payloads import PayloadError, image_from_png
from serving.rest import decode_answer, parse_response
from serving.signatures import Predictions, ServingError
from serving.tfrecords import MAX_RECORD_BYTES, frame_record, masked_crc, read_frames

LONG = os.environ.get("FASHION_TFX_FUZZ") == "long"
# The short pass: derandomised, so every run tries the same examples; the long pass explores afresh.
FUZZ = settings(
    max_examples=20_000 if LONG else 150,
    derandomize=not LONG,
    deadline=timedelta(seconds=5),  # no example may take longer: a hang fails the test
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FUZZ_FILES = settings(FUZZ, max_examples=2_000 if LONG else 40)  # examples that write a file each
MEMORY_BUDGET = 32 << 20  # bytes allocated at the peak of one example, beyond what it was given


@pytest.fixture(autouse=True)
def traced_memory():
    """Traces Python and NumPy allocations for the test (see `_within_memory`)."""
    tracemalloc.start()
    yield
    tracemalloc.stop()


def _within_memory(parse, *args):
    """Calls `parse(*args)`; fails if the call allocated more than MEMORY_BUDGET at its peak."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        return parse(*args)
    finally:
        peak = tracemalloc.get_traced_memory()[1] - before
        assert peak < MEMORY_BUDGET, f"{parse.__name__} allocated {peak} bytes"


def _mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """`seed` with bytes flipped, cut, inserted or repeated: near-misses of a valid input."""

    def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
        out = bytearray(data)
        for kind, position, value in edits:
            position %= max(len(out), 1)
            if kind == 0 and out:
                out[position] = value
            elif kind == 1:
                del out[position:]
            elif kind == 2:
                out[position:position] = bytes([value]) * (value % 17 + 1)
            else:
                out += out[position:]
        return bytes(out)

    edit = st.tuples(st.integers(0, 3), st.integers(0, 1 << 16), st.integers(0, 255))
    return st.lists(edit, min_size=1, max_size=4).map(lambda edits: mutate(seed, edits))


# --- IDX ----------------------------------------------------------------------------------------


def _idx_headers() -> st.SearchStrategy[bytes]:
    magic = st.sampled_from([IMAGES_MAGIC, LABELS_MAGIC, 0x0803, 0x08FF, 0])
    dims = st.lists(st.integers(0, 0xFFFFFFFF) | st.integers(0, 40), min_size=0, max_size=4)
    body = st.binary(max_size=256)
    return st.builds(lambda m, d, b: struct.pack(f">I{len(d)}I", m, *d) + b, magic, dims, body)


@FUZZ
@given(content=st.binary(max_size=512) | _idx_headers(), magic=st.sampled_from([IMAGES_MAGIC, LABELS_MAGIC]))
def test_idx_parser_refuses_or_parses_exactly(content, magic):
    try:
        array = _within_memory(parse_idx, content, magic, "fuzz.idx")
    except IdxFormatError as err:
        assert str(err).startswith("fuzz.idx: ")
        return
    assert array.dtype == np.uint8 and array.size == len(content) - (4 + 4 * array.ndim)


# --- PNG checks of served inputs ----------------------------------------------------------------

_GOOD_PNG = encode_png(np.arange(28 * 28, dtype=np.uint8).reshape(28, 28))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_headers() -> st.SearchStrategy[bytes]:
    """Well-formed chunk lists with any IHDR fields and pixel data: the checks past the CRCs."""
    ihdr = st.tuples(
        st.integers(0, 1 << 31) | st.integers(0, 64),
        st.integers(0, 1 << 31) | st.integers(0, 64),
        st.sampled_from([1, 2, 4, 8, 16, 3]),
        st.sampled_from([0, 2, 3, 4, 6, 5]),
    )
    pixels = st.binary(max_size=2048).map(zlib.compress)
    return st.builds(
        lambda header, data: (
            b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", *header, 0, 0, 0))
            + _png_chunk(b"IDAT", data)
            + _png_chunk(b"IEND", b"")
        ),
        ihdr,
        pixels,
    )


@FUZZ
@given(data=st.binary(max_size=256) | _mutations(_GOOD_PNG) | _png_headers())
def test_png_checks_refuse_or_give_a_28x28_grey_image(data):
    try:
        image = _within_memory(image_from_png, data, "fuzz.png")
    except PayloadError as err:
        assert str(err).startswith("fuzz.png: ") and "\n" not in str(err)
        return
    assert image.shape == (28, 28) and image.dtype == np.uint8


# --- TFRecord framing -----------------------------------------------------------------------------

_GOOD_FRAMES = frame_record(b"first record") + frame_record(b"") + frame_record(bytes(range(256)))


def _forged_lengths() -> st.SearchStrategy[bytes]:
    """Frames whose length field carries a valid CRC but claims anything up to 2^64 - 1."""

    def frame(length: int, tail: bytes) -> bytes:
        field = struct.pack("<Q", length)
        return field + struct.pack("<I", masked_crc(field)) + tail

    return st.builds(frame, st.integers(0, (1 << 64) - 1) | st.integers(0, 300), st.binary(max_size=300))


@FUZZ
@given(
    data=st.binary(max_size=512) | _mutations(_GOOD_FRAMES) | _forged_lengths(),
    size_known=st.booleans(),
)
def test_tfrecord_framing_refuses_or_yields_checked_records(data, size_known):
    def read_all(stream, size):
        return list(read_frames(stream, "fuzz.tfrecord", size))

    try:
        records = _within_memory(read_all, io.BytesIO(data), len(data) if size_known else None)
    except PayloadError as err:
        assert str(err).startswith("fuzz.tfrecord: ") and "\n" not in str(err)
        return
    assert b"".join(frame_record(r) for r in records) == data  # exactly the frames, nothing skipped
    assert all(len(r) <= MAX_RECORD_BYTES for r in records)


# --- catalogue schema -----------------------------------------------------------------------------

_COLUMN_KINDS = {
    "string": lambda n: pa.array([f"id{i}" for i in range(n)], pa.string()),
    "int64": lambda n: pa.array([i % 12 for i in range(n)], pa.int64()),
    "int8 with nulls": lambda n: pa.array([None if i % 3 else i for i in range(n)], pa.int8()),
    "binary PNG": lambda n: pa.array([_GOOD_PNG] * n, pa.binary()),
    "binary junk": lambda n: pa.array([b"junk"] * n, pa.binary()),
    "float": lambda n: pa.array([0.5] * n, pa.float32()),
    "fixed list": lambda n: pa.FixedSizeListArray.from_arrays(pa.array([1.0, 0.0] * n, pa.float32()), 2),
    "fixed list of ints": lambda n: pa.FixedSizeListArray.from_arrays(pa.array([1, 0] * n, pa.int32()), 2),
    "variable list": lambda n: pa.array([[1.0] * (i % 3) for i in range(n)], pa.list_(pa.float32())),
}


@FUZZ_FILES
@given(
    kinds=st.fixed_dictionaries({name: st.sampled_from(sorted(_COLUMN_KINDS)) for name in INDEX_COLUMNS}),
    dropped=st.sets(st.sampled_from(INDEX_COLUMNS), max_size=2),
    rows=st.integers(0, 5),
    junk=st.none() | st.binary(max_size=200),
)
def test_catalogue_schema_refuses_or_gives_a_usable_table(kinds, dropped, rows, junk, tmp_path):
    path = tmp_path / "index.parquet"
    if junk is not None:
        path.write_bytes(b"PAR1" + junk)
    else:
        columns = {name: _COLUMN_KINDS[kind](rows) for name, kind in kinds.items() if name not in dropped}
        pq.write_table(pa.table(columns), path)
    try:
        table, _ = _within_memory(read_index, str(path))
    except PayloadError as err:
        assert str(err).startswith(f"{path}: ") and "\n" not in str(err)
        return
    assert table.num_rows > 0
    assert pa.types.is_fixed_size_list(table.schema.field("embedding").type)
    assert pa.types.is_integer(table.schema.field("label").type)
    assert table.column("embedding").null_count == 0


# --- REST answers ---------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=40,
)


def _answers() -> st.SearchStrategy[object]:
    """TF Serving-shaped answers with any values in them: the shapes the parser branches on."""
    outputs = st.fixed_dictionaries(
        {},
        optional={
            "probabilities": _JSON | st.lists(st.lists(st.floats(), min_size=10, max_size=10), max_size=3),
            "class_id": _JSON | st.lists(st.integers(-2, 12), max_size=3),
            "class_name": _JSON | st.lists(st.sampled_from([*CLASS_NAMES, "\x1b[2J"]), max_size=3),
        },
    )
    rows = st.lists(outputs, max_size=3)
    return st.one_of(
        _JSON,
        st.builds(lambda o: {"outputs": o}, outputs | _JSON),
        st.builds(lambda r: {"predictions": r}, rows | _JSON),
        st.builds(lambda e: {"error": e}, _JSON),
    )


def _encode(answer: object) -> bytes:
    return json.dumps(answer, allow_nan=True).encode()


def _parse_answer(raw: bytes) -> Predictions:
    return Predictions.from_outputs(parse_response(decode_answer(raw, "fuzz")), "fuzz")


@FUZZ
@given(
    raw=st.binary(max_size=256)
    | _answers().map(_encode)
    | st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth)
    | _mutations(
        _encode({"outputs": {"probabilities": [[0.1] * 10], "class_id": [0], "class_name": ["Bag"]}})
    )
)
def test_rest_answer_is_refused_or_a_valid_prediction(raw):
    try:
        predictions = _within_memory(_parse_answer, raw)
    except ServingError as err:
        assert "\x1b" not in repr(str(err)).replace("\\x1b", "")
        return
    assert predictions.probabilities.shape == (len(predictions), 10)
    assert np.isfinite(predictions.probabilities).all()
    for probabilities, class_id, name in zip(
        predictions.probabilities, predictions.class_id, predictions.class_name, strict=True
    ):
        assert math.isclose(float(probabilities.sum()), 1.0, abs_tol=1e-3)
        assert name == CLASS_NAMES[class_id]
