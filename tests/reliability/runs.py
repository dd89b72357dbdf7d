"""Helpers for the reliability tests: CLI runs in subprocesses, and reading a run back from ML Metadata."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2

from pipeline import nodes
from pipeline.metadata import open_store

REPO = Path(__file__).resolve().parents[2]
CLI = [str(Path(sys.executable).parent / "fashion-tfx")]  # the console script users run
COMPLETE = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)


# The data half of the pipeline: what most reliability tests need, at a fraction of a full run's time.
DATA_HALF = nodes.UPSCALER


def start_run(
    data_dir: Path, root: Path, *extra: str, stop_after: str | None = DATA_HALF
) -> subprocess.Popen:
    """Starts `fashion-tfx run --profile test` in its own process group, stderr piped (line-buffered).

    Args:
        stop_after: run the pipeline only up to this node id (`--stop-after`); None for all of it.
    """
    stop = ["--stop-after", stop_after] if stop_after else []
    return subprocess.Popen(
        # The tests' tiny synthetic data is not the canonical set: allowed explicitly, as a user would.
        [
            *CLI,
            "run",
            "--profile",
            "test",
            "--data-dir",
            str(data_dir),
            "--root",
            str(root),
            "--allow-foreign-data",
            *stop,
            *extra,
        ],  # fmt: skip
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for_line(process: subprocess.Popen, text: str, timeout: float = 300.0) -> list[str]:
    """Reads the process's stderr until a line contains `text`; returns the lines read.

    Raises:
        AssertionError: the process ended or the timeout passed first (with what it printed).
    """
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if text in line:
            return lines
    process.kill()
    raise AssertionError(f"never saw {text!r}; stderr was:\n" + "\n".join(lines))


def sigkill(process: subprocess.Popen) -> None:
    """Kills the run's whole process group with SIGKILL (no cleanup handlers run) and reaps it."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def executions(metadata_path: Path) -> list[tuple[str, metadata_store_pb2.Execution]]:
    """Returns (node id, execution) for every execution in the store, oldest first."""
    store = open_store(metadata_path)
    found = []
    for context in store.get_contexts_by_type("node"):
        node_id = context.name.split(".", 1)[-1]
        found += [(node_id, e) for e in store.get_executions_by_context(context.id)]
    return sorted(found, key=lambda pair: pair[1].id)


def consumed_artifacts_of_incomplete_producers(metadata_path: Path) -> list[str]:
    """Returns artifacts used as an input whose producing execution never completed (should be none)."""
    store = open_store(metadata_path)
    events = store.get_events_by_execution_ids([e.id for _, e in executions(metadata_path)])
    by_id = {e.id: e for _, e in executions(metadata_path)}
    producers = {
        ev.artifact_id: ev.execution_id for ev in events if ev.type == metadata_store_pb2.Event.OUTPUT
    }
    bad = []
    for ev in events:
        if ev.type != metadata_store_pb2.Event.INPUT:
            continue
        producer = by_id.get(producers.get(ev.artifact_id))
        if producer is None or producer.last_known_state not in COMPLETE:
            bad.append(f"artifact {ev.artifact_id} consumed by execution {ev.execution_id}")
    return bad


def output_artifacts(metadata_path: Path, execution_id: int) -> list[metadata_store_pb2.Artifact]:
    """Returns the artifacts an execution declared or published as outputs."""
    store = open_store(metadata_path)
    events = store.get_events_by_execution_ids([execution_id])
    outputs = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.PENDING_OUTPUT)
    ids = [ev.artifact_id for ev in events if ev.type in outputs]
    return store.get_artifacts_by_id(ids) if ids else []


def live_examples(metadata_path: Path) -> dict[str, str]:
    """Returns producer node id -> URI of its newest LIVE Examples artifact."""
    store = open_store(metadata_path)
    found = {}
    for node_id, execution in executions(metadata_path):
        if execution.last_known_state not in COMPLETE:
            continue
        for artifact in output_artifacts(metadata_path, execution.id):
            if artifact.type == "Examples" and artifact.state == metadata_store_pb2.Artifact.LIVE:
                found[node_id] = artifact.uri
    del store
    return found


def split_records(examples_uri: str) -> dict[str, list[bytes]]:
    """Returns split -> its serialized tf.Examples in file order (decompressed payloads, not gzip bytes)."""
    records = {}
    for split_dir in sorted(Path(examples_uri).glob("Split-*")):
        files = sorted(str(p) for p in split_dir.glob("*.gz"))
        assert files, f"{split_dir} holds no TFRecord files"
        dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
        records[split_dir.name[len("Split-") :]] = [r.numpy() for r in dataset]
    return records


def split_ids(records: dict[str, list[bytes]]) -> dict[str, list[str]]:
    """Returns split -> example ids (the split membership) from serialized tf.Examples."""
    ids = {}
    for split, serialized in records.items():
        ids[split] = [
            tf.train.Example.FromString(r).features.feature["id"].bytes_list.value[0].decode()
            for r in serialized
        ]
    return ids


def assert_same_examples(
    producer: str, records: dict[str, list[bytes]], expected: dict[str, list[bytes]]
) -> None:
    """Asserts equal split membership and byte-identical serialized examples, saying which differs."""
    assert set(records) == {"train", "eval", "test"}, sorted(records)
    assert all(records.values()), {split: len(r) for split, r in records.items()}
    assert split_ids(records) == split_ids(expected), f"{producer}: split membership differs"
    if records != expected:
        same_protos = all(
            tf.train.Example.FromString(a) == tf.train.Example.FromString(b)
            for split in records
            for a, b in zip(records[split], expected[split], strict=True)
        )
        hint = (
            " (the same tf.Examples serialized in a different field order: the writer needs "
            "SerializeToString(deterministic=True))"
            if same_protos
            else ""
        )
        raise AssertionError(f"{producer}: serialized example bytes differ{hint}")
