"""Hostile input at the serving edges: TFRecord input, catalogues, the REST client, and the flags.

Each probe is a row of a table run against the real CLI and the real tiny export: one
`fashion-tfx: error:` line, the right exit code (2 for the user's input, 1 for the server's or the
machine's fault), no traceback, no partial file, within a time and memory bound. The probes that once
crashed the interpreter (a forged TFRecord frame, a full disk) run in a child process, so a crash is seen
as an exit code rather than taking the test session down with it.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import run_cli

from data.classes import CLASS_NAMES
from data.examples import encode_png, make_example
from serving import push
from serving.signatures import DEFAULT_MODEL_NAME
from serving.tfrecords import MAX_RECORD_BYTES, frame_record, masked_crc

SECONDS = 30  # every probe ends within this, model loading included
EXTRA_MEMORY_MB = 400  # and grows the process's peak memory by at most this much
ONE_LINE = re.compile(r"\Afashion-tfx: error: [^\n]+\n\Z")


@dataclasses.dataclass
class Outcome:
    """What one CLI invocation did."""

    code: int
    out: str
    err: str
    seconds: float
    extra_mb: float


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cli(argv: list[str], capsys) -> Outcome:
    peak, start = _peak_mb(), time.monotonic()
    code, out, err = run_cli([str(a) for a in argv], capsys)
    return Outcome(code, out, err, time.monotonic() - start, _peak_mb() - peak)


def _assert_refused(outcome: Outcome, code: int, message: str, work: Path, before: set[str]) -> None:
    """One line naming the problem, the right exit code, nothing left in `work`, within the bounds."""
    assert outcome.code == code, outcome.err
    assert ONE_LINE.match(outcome.err), outcome.err
    assert "Traceback" not in outcome.err and "\x1b" not in outcome.err
    assert re.search(message, outcome.err), outcome.err
    assert set(os.listdir(work)) == before, "a refusal must leave nothing behind"
    assert outcome.seconds < SECONDS, f"took {outcome.seconds:.1f} s"
    assert outcome.extra_mb < EXTRA_MEMORY_MB, f"peak memory grew by {outcome.extra_mb:.0f} MB"


@pytest.fixture(scope="module")
def serving_root(tmp_path_factory, tiny_model_dir) -> Path:
    """TF Serving's layout holding the tiny real export as version 1."""
    root = tmp_path_factory.mktemp("serving")
    shutil.copytree(tiny_model_dir, push.safe_model_path(root, DEFAULT_MODEL_NAME) / "1")
    return root


@pytest.fixture
def work(tmp_path) -> Path:
    """An empty folder for a probe's inputs and outputs."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def _png(seed: int = 0) -> bytes:
    return encode_png(np.random.default_rng(seed).integers(0, 256, (28, 28)).astype(np.uint8))


def _example(seed: int) -> bytes:
    image = np.random.default_rng(seed).integers(0, 256, (28, 28)).astype(np.uint8)
    return make_example(image, seed % 10, f"item:{seed}").SerializeToString()


# --- TFRecord input -------------------------------------------------------------------------------


def _forged_frame() -> bytes:
    """The issue's probe: 112 bytes, one frame whose length field (valid CRC) claims 1 TiB."""
    length = struct.pack("<Q", 1 << 40)
    return (length + struct.pack("<I", masked_crc(length))).ljust(112, b"\0")


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data)


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0xFF]) + data[position + 1 :]


_GOOD = frame_record(_example(1))
_OVERSIZED = struct.pack("<Q", MAX_RECORD_BYTES + 1)
# (file name, its bytes, what the one line must say)
TFRECORD_CASES = {
    "forged 1 TiB frame": ("x.tfrecord", _forged_frame(), r"x.tfrecord: damaged TFRecord file at record 0 "
                           r"\(byte 0\): the frame claims 1099511627776 bytes, only 96 are left"),
    "forged 1 TiB frame, gzip": ("x.tfrecord.gz", _gzip(_forged_frame()), r"record 0 .*more than "
                                 f"the {MAX_RECORD_BYTES} bytes"),
    "frame over budget, gzip": (
        "x.tfrecord.gz",
        _gzip(_GOOD + _OVERSIZED + struct.pack("<I", masked_crc(_OVERSIZED)) + bytes(64)),
        rf"record 1 \(byte {len(_GOOD)}\): the frame claims {MAX_RECORD_BYTES + 1} bytes, more than",
    ),
    "truncated header": ("x.tfrecord", _GOOD + _GOOD[:5], r"record 1 .*truncated frame header \(5 of 12"),
    "truncated record": ("x.tfrecord", _GOOD[:-9], r"record 0 .*only \d+ are left"),
    "length checksum": ("x.tfrecord", _flip(_GOOD, 9), r"record 0 .*length checksum mismatch"),
    "data checksum": ("x.tfrecord", _GOOD + _flip(_GOOD, 20), r"record 1 .*data checksum mismatch"),
    "text file": ("x.tfrecord", b"hello, this is not a TFRecord file at all\n",
                  r"record 0 .*length checksum mismatch"),
    "not gzip": ("x.tfrecord.gz", _GOOD, r"x.tfrecord.gz: unreadable GZIP-compressed TFRecord file"),
    "gzip cut short": ("x.tfrecord.gz", _gzip(_GOOD * 3)[:-12], r"unreadable GZIP-compressed TFRecord"),
}  # fmt: skip


@pytest.mark.parametrize("command", ["predict", "embed"])
@pytest.mark.parametrize("case", sorted(TFRECORD_CASES))
def test_broken_tfrecord_input_is_one_line_naming_file_and_record(case, command, serving_root, work, capsys):
    name, data, message = TFRECORD_CASES[case]
    (work / name).write_bytes(data)
    output = work / ("out.csv" if command == "predict" else "out.parquet")
    before = set(os.listdir(work))
    outcome = _cli([command, work / name, "--serving-root", serving_root, "--output", output], capsys)
    _assert_refused(outcome, 2, message, work, before)
    assert "IteratorGetNext" not in outcome.err and "{{" not in outcome.err  # no TensorFlow internals


def _child(argv: list[str], cwd: Path, file_size_limit: int | None = None) -> tuple[int, str, float]:
    """Runs `fashion-tfx ARGV` in a child interpreter; returns (exit code, stderr, peak memory in MB)."""
    script = "import sys; from pipeline.cli import main; sys.exit(main(sys.argv[1:]))"

    def limits():  # in the child, before Python starts: files may grow to `file_size_limit` bytes
        if file_size_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    child = subprocess.Popen(
        [sys.executable, "-c", script, *map(str, argv)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limits,
    )
    _, err = child.communicate(timeout=180)
    # The largest peak of any child waited for so far: an upper bound of this child's.
    return child.returncode, err, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _errors_only(stderr: str) -> str:
    """The tool's own lines (TensorFlow's start-up chatter and Python warnings left out)."""
    return "".join(
        line + "\n" for line in stderr.splitlines() if line.startswith(("fashion-tfx", "Traceback"))
    )


@pytest.mark.parametrize("command", ["predict", "embed"])
def test_forged_tfrecord_frame_does_not_crash_the_process(command, serving_root, work):
    """The issue's probe in a real process: it died of SIGSEGV (exit 139) and left a `.partial` file."""
    (work / "forged.tfrecord").write_bytes(_forged_frame())
    output = "x.csv" if command == "predict" else "x.npy"
    start = time.monotonic()
    code, err, peak = _child(
        [command, "forged.tfrecord", "--serving-root", serving_root, "--output", output], work
    )
    assert code == 2, err
    assert ONE_LINE.match(_errors_only(err)), err
    assert "frame claims 1099511627776 bytes" in err
    assert os.listdir(work) == ["forged.tfrecord"]
    assert time.monotonic() - start < 120 and peak < 4096


def test_embed_onto_a_full_disk_is_one_line_and_leaves_no_partial_file(serving_root, work):
    """Writes fail once files reach 1 KB (RLIMIT_FSIZE, as a full disk fails them): nothing is left."""
    records = b"".join(frame_record(_example(seed)) for seed in range(40))
    (work / "in.tfrecord").write_bytes(records)
    for output in ("x.npy", "x.parquet"):
        code, err, _ = _child(
            ["embed", "in.tfrecord", "--serving-root", serving_root, "--output", output, "--batch-size", "8"],
            work,
            file_size_limit=1024,
        )
        assert code == 1, err
        assert ONE_LINE.match(_errors_only(err)), err
        assert re.search(rf"{output}: cannot write the output \(", err), err
        assert os.listdir(work) == ["in.tfrecord"], os.listdir(work)


# --- catalogues for `similar` ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue(serving_root, tmp_path_factory) -> Path:
    """A real catalogue of 12 items made by `fashion-tfx embed`."""
    folder = tmp_path_factory.mktemp("catalogue")
    (folder / "in.tfrecord").write_bytes(b"".join(frame_record(_example(seed)) for seed in range(12)))
    index = folder / "index.parquet"
    from pipeline.cli import main

    argv = [
        "embed",
        folder / "in.tfrecord",
        "--serving-root",
        serving_root,
        "--output",
        index,
        "--no-progress",
    ]
    assert main([str(a) for a in argv]) == 0
    return index


def _rewrite(index: Path, target: Path, **columns) -> None:
    """Writes `index` again at `target` with some columns replaced (the model's fingerprint kept)."""
    table = pq.read_table(index)
    for name, column in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, column)
    pq.write_table(table.replace_schema_metadata(pq.read_schema(index).metadata), target)


def _embeddings(index: Path) -> np.ndarray:
    column = pq.read_table(index).column("embedding").combine_chunks()
    return column.flatten().to_numpy().reshape(len(column), -1).copy()


def _fixed(matrix: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1), pa.float32()), matrix.shape[1])


def _huge_png_header() -> bytes:
    """A PNG header declaring 30000x30000 pixels (decoding it would take gigabytes)."""
    png = _png()
    return png[:16] + struct.pack(">II", 30000, 30000) + png[24:]


# (how to damage the catalogue, extra options, exit code, what the one line must say)
CATALOGUE_CASES = {
    "embeddings as a variable list": (
        lambda ix, m: dict(embedding=pa.array(list(m), pa.list_(pa.float32()))), [], 2,
        r"column 'embedding' holds list<item: float>; a catalogue's embedding are fixed-width lists"),
    "embeddings as strings": (
        lambda ix, m: dict(embedding=pa.array([str(list(r)) for r in m])), [], 2,
        r"column 'embedding' holds string"),
    "labels as strings": (
        lambda ix, m: dict(label=pa.array(["shirt"] * len(m))), [], 2, r"column 'label' holds string"),
    "ids as numbers": (lambda ix, m: dict(id=pa.array(range(len(m)))), [], 2, r"column 'id' holds int64"),
    "pictures that are not PNGs": (
        lambda ix, m: dict(image_png=pa.array([b"GIF89a..."] * len(m), pa.binary())), [], 2,
        r"index.parquet: item \d+ \(item:\d+\): not a PNG image"),
    "pictures of 30000x30000 pixels": (
        lambda ix, m: dict(image_png=pa.array([_huge_png_header()] * len(m), pa.binary())), [], 2,
        r"item \d+ .*oversized image 30000x30000"),
    "all embeddings NaN": (
        lambda ix, m: dict(embedding=_fixed(np.full_like(m, np.nan))), [], 2,
        r"none of its 12 embeddings is usable \(all are NaN, infinite or zero\)"),
    "all embeddings zero": (
        lambda ix, m: dict(embedding=_fixed(np.zeros_like(m))), [], 2,
        r"none of its 12 embeddings is usable"),
    "k far above the catalogue": (
        lambda ix, m: {}, ["-k", "20000"], 2, r"-k must lie in 1\.\.100, got 20000"),
    "k negative": (lambda ix, m: {}, ["-k", "-3"], 2, r"-k must lie in 1\.\.100, got -3"),
    "k in other digits": (lambda ix, m: {}, ["-k", "٥"], 2, r"-k: not a whole number in ASCII digits"),
    "grid empty": (lambda ix, m: {}, ["--grid", ""], 2, r"--grid: must name a file or folder, got ''"),
    "index empty path": (lambda ix, m: {}, ["--index", ""], 2, r"--index: must name a file or folder"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CATALOGUE_CASES))
def test_bad_catalogue_or_similar_flag_is_one_line(case, catalogue, serving_root, work, capsys):
    damage, extra, code, message = CATALOGUE_CASES[case]
    index = work / "index.parquet"
    _rewrite(catalogue, index, **damage(catalogue, _embeddings(catalogue)))
    (work / "query.png").write_bytes(_png(5))
    before = set(os.listdir(work))
    argv = ["similar", work / "query.png", "--serving-root", serving_root, "--grid", work / "grid.png"]
    argv += [] if "--index" in extra else ["--index", index]
    outcome = _cli([*argv, *extra], capsys)
    _assert_refused(outcome, code, message, work, before)


def test_partly_unusable_catalogue_warns_and_ranks_the_rest(catalogue, serving_root, work, capsys):
    matrix = _embeddings(catalogue)
    matrix[:4] = np.nan
    matrix[4:6] = 0
    index = work / "index.parquet"
    _rewrite(catalogue, index, embedding=_fixed(matrix))
    (work / "query.png").write_bytes(_png(5))
    outcome = _cli(
        ["similar", work / "query.png", "--index", index, "--serving-root", serving_root, "-k", "20",
         "--grid", work / "grid.png"],
        capsys,
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    assert "warning: 6 items of" in outcome.err and "left out" in outcome.err
    ranked = [line.split("\t") for line in outcome.out.splitlines() if not line.startswith("#")]
    assert len(ranked) == 6  # -k 20 on 6 usable items
    assert all(np.isfinite(float(similarity)) for _, similarity, _, _ in ranked)
    assert {item_id for *_, item_id in ranked} == {f"item:{seed}" for seed in range(6, 12)}


# --- the REST client against a hostile server ------------------------------------------------------


def _answer(**overrides) -> bytes:
    outputs = {"probabilities": [[0.1] * 10], "class_id": [0], "class_name": [CLASS_NAMES[0]]}
    return json.dumps({"outputs": {**outputs, **overrides}}).encode()


# (what the server sends back: status and body, or a behaviour; what the one line must say)
REST_CASES = {
    "a number": ((200, b"5"), r"answer is a JSON int, not an object"),
    "null": ((200, b"null"), r"answer is a JSON NoneType, not an object"),
    "a string": ((200, b'"predictions"'), r"answer is a JSON str, not an object"),
    "not JSON": ((200, b"<html>hello</html>"), r"answer is not JSON"),
    "100,000 nested brackets": ((200, b"[" * 100_000), r"answer nests JSON deeper than 32 levels"),
    "probabilities as a string": ((200, _answer(probabilities="0.1")), r"inconsistent outputs"),
    "probabilities ragged": ((200, _answer(probabilities=[[0.5, 0.5], [1.0]])), r"malformed outputs"),
    "probabilities NaN": (
        (200, _answer(probabilities=[[float("nan")] * 10])), r"must be finite values in 0\.\.1"),
    "probabilities not summing to 1": ((200, _answer(probabilities=[[0.5] * 10])), r"sum to 5, not 1"),
    "class id 99": ((200, _answer(class_id=[99])), r"unknown class id 99"),
    "class id a float": ((200, _answer(class_id=[1.5])), r"class_id must be a list of integers"),
    "class name with an ANSI escape": (
        (200, _answer(class_name=["\x1b[2J\x1b[31mT-shirt/top"])), r"class name '\\x1b\[2J"),
    "class name of another class": ((200, _answer(class_name=["Bag"])), r"class name 'Bag' is not the name"),
    "outputs missing": (
        (200, b'{"outputs": {"probabilities": [[1]]}}'), r"lacks output\(s\) class_id, class_name"),
    "rows with different keys": ((200, b'{"predictions": [{"a": 1}, {"b": 2}]}'), r"malformed answer"),
    "HTTP 500 with an escape": ((500, b'{"error": "boom \\u001b[31m"}'), r"HTTP 500: boom \\x1b\[31m"),
    "endless body": ("endless", r"answer larger than 8388608 bytes"),
    "one byte every 0.2 s": ("drip", r"no complete answer within 2 s \(--timeout\)"),
}  # fmt: skip


class _HostileServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    behaviour: object = None
    stop = threading.Event()


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        behaviour = self.server.behaviour  # type: ignore[attr-defined]
        stop = self.server.stop  # type: ignore[attr-defined]
        try:
            if behaviour == "endless":
                self.send_response(200)
                self.end_headers()
                while not stop.is_set():
                    self.wfile.write(b" " * 65536)
            elif behaviour == "drip":
                self.send_response(200)
                self.end_headers()
                while not stop.wait(0.2):
                    self.wfile.write(b" ")
                    self.wfile.flush()
            else:
                status, body = behaviour
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        except OSError:  # the client hung up, as it should
            pass


@pytest.fixture
def hostile_server():
    server = _HostileServer(("127.0.0.1", 0), _Handler)
    server.stop = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.stop.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("case", sorted(REST_CASES))
def test_rest_client_treats_the_server_as_untrusted(case, hostile_server, work, capsys):
    hostile_server.behaviour, message = REST_CASES[case]
    (work / "a.png").write_bytes(_png())
    before = set(os.listdir(work))
    port = hostile_server.server_address[1]
    outcome = _cli(
        [
            "predict",
            work / "a.png",
            "--backend",
            "rest",
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--timeout",
            "2",
        ],
        capsys,
    )
    _assert_refused(outcome, 1, message, work, before)
    assert outcome.seconds < 5, "the whole request is bounded by --timeout"
    assert outcome.out == ""


# --- flags of predict, embed and similar -----------------------------------------------------------


def _remote(backend: str, option: str, value: str) -> list[str]:
    return ["predict", "{png}", "--backend", backend, option, value]


# (arguments after the command, with {png}, {work} and {root} filled in; what the one line must say)
FLAG_CASES = {
    "host with a space": (_remote("rest", "--host", "tfs host"), r"--host: not a host name .*'tfs host'"),
    "host with a newline": (_remote("rest", "--host", "tfs\nevil"), r"--host: .*'tfs\\nevil'"),
    "host with a scheme": (_remote("grpc", "--host", "http://tfs"), r"--host: not a host name"),
    "host with a port": (_remote("rest", "--host", "tfs:99"), r"--host: not a host name"),
    "port 69001": (_remote("rest", "--port", "69001"), r"--port: a port is a number in 1-65535, got '69001'"),
    "port 0": (_remote("rest", "--port", "0"), r"--port: a port is a number in 1-65535"),
    "port in other digits": (_remote("grpc", "--port", "８５００"), r"--port: a port is"),
    "output empty": (["predict", "{work}", "--output", ""], r"--output: must name a file or folder, got ''"),
    "output a folder": (["predict", "{png}", "--output", "{work}"], r"is a folder; give an output file"),
    "model dir empty": (["predict", "{png}", "--model-dir", ""], r"--model-dir: must name a file or folder"),
    "serving root empty": (["predict", "{png}", "--serving-root", ""],
                           r"--serving-root: must name a file or folder"),
    "serving root blank": (["embed", "{png}", "--output", "{work}/e.npy", "--serving-root", " "],
                           r"--serving-root: must name a file or folder"),
    "version -1": (["predict", "{png}", "--version", "-1"], r"--version: a version is a number of 0 or more"),
    "model dir gs://": (["predict", "{png}", "--model-dir", "gs://bucket/model/1"],
                        r"--model-dir gs://bucket/model/1: a bucket URI; the local backend loads models from "
                        r"local folders and s3:// only"),
    "serving root gs://": (["predict", "{png}", "--serving-root", "gs://bucket/serving"],
                           r"--serving-root gs://bucket/serving: a bucket URI"),
    "embed batch size 0": (["embed", "{png}", "--output", "{work}/e.npy", "--batch-size", "0"],
                           r"--batch-size must lie in 1\.\.256, got 0$"),
    "embed output empty": (["embed", "{png}", "--output", ""], r"--output: must name a file or folder"),
    "folder named x.png": (["predict", "{work}/x.png", "--strict"],
                           r"x.png: a folder named like a PNG file, with no file in it"),
    "folder named x.png, not strict": (["predict", "{work}/x.png"],
                                       r"no usable image among the inputs \(1 skipped\)"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(FLAG_CASES))
def test_bad_flags_are_one_line_exit_2(case, serving_root, work, capsys):
    args, message = FLAG_CASES[case]
    (work / "a.png").write_bytes(_png())
    (work / "x.png").mkdir()
    before = set(os.listdir(work))
    places = {"png": str(work / "a.png"), "work": str(work), "root": str(serving_root)}
    argv = [a.format(**places) for a in args]
    if "--serving-root" not in argv and "--model-dir" not in argv:
        argv += ["--serving-root", str(serving_root)]
    outcome = _cli(argv, capsys)
    if case.endswith("not strict"):  # the skipped folder is listed on its own line first
        assert outcome.err.startswith("fashion-tfx: skipped: ")
        outcome.err = outcome.err.split("\n", 1)[1]
    _assert_refused(outcome, 2, message, work, before)
    assert outcome.out == ""


def test_libpng_messages_stay_off_the_console(serving_root, work, capsys):
    """A PNG whose pixel data is short: libpng's own "Not enough image data" goes into the one line."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
    short = b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(bytes(100))) + chunk(b"IEND", b"")
    (work / "short.png").write_bytes(short)
    before = set(os.listdir(work))
    outcome = _cli(["predict", work / "short.png", "--serving-root", serving_root], capsys)
    _assert_refused(
        outcome, 2, r"short.png: bytes are not a decodable PNG image \(libpng error: Not enough", work, before
    )
