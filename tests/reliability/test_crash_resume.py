"""SIGKILL a run in the middle of a component, rerun it, and check through ML Metadata what was reused."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2
from reliability.runs import (
    DATA_HALF,
    assert_same_examples,
    consumed_artifacts_of_incomplete_producers,
    executions,
    live_examples,
    output_artifacts,
    sigkill,
    split_records,
    start_run,
)

RUNNING = metadata_store_pb2.Execution.RUNNING
COMPLETE = metadata_store_pb2.Execution.COMPLETE
CACHED = metadata_store_pb2.Execution.CACHED


def _wait_until_running(metadata_path, node_id, timeout=60.0):
    """Waits until ML Metadata records `node_id`'s execution as RUNNING; returns that execution."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not metadata_path.exists():  # the run has not created its store yet: let it, not us
            time.sleep(0.2)
            continue
        try:
            found = [e for node, e in executions(metadata_path) if node == node_id]
        except Exception:  # noqa: BLE001  (the run may be creating the store's tables right now)
            time.sleep(0.2)
            continue
        if found and found[-1].last_known_state == RUNNING:
            return found[-1]
        time.sleep(0.2)
    raise AssertionError(f"{node_id} never showed as RUNNING in ML Metadata")


def crash_and_resume(data_dir, root, clean_run, node_id, stop_after):
    """Kills a run while `node_id` executes, reruns it, and checks the resume against a clean run."""
    metadata = root / "metadata.sqlite"
    victim = start_run(data_dir, root, stop_after=stop_after)
    try:
        killed = _wait_until_running(metadata, node_id, timeout=1800)
    finally:
        sigkill(victim)
    # What had finished when the process died, as ML Metadata recorded it (the console shows the same,
    # up to half a second later).
    finished = {node for node, e in executions(metadata) if e.last_known_state == COMPLETE}
    assert finished, "nothing had finished before the kill"
    last_before = max(e.id for _, e in executions(metadata))

    rerun = start_run(data_dir, root, stop_after=stop_after)
    stdout, stderr = rerun.communicate(timeout=3600)
    assert rerun.returncode == 0, stderr

    states = {e.id: e.last_known_state for _, e in executions(metadata)}
    # The killed execution never completed, and nothing it wrote became a LIVE artifact.
    assert states[killed.id] == RUNNING
    assert [
        a.uri for a in output_artifacts(metadata, killed.id) if a.state == metadata_store_pb2.Artifact.LIVE
    ] == []
    # The rerun reused every execution that had finished, and executed the killed one again.
    # (Resolvers look artifacts up afresh on every run: they complete again, never cached.)
    resumed = {node: e.last_known_state for node, e in executions(metadata) if e.id > last_before}
    resolvers = {node for node in finished if node.startswith("latest_blessed")}
    assert {node for node, state in resumed.items() if state == CACHED} == finished - resolvers
    assert all(resumed[node] == COMPLETE for node in resolvers)
    assert resumed[node_id] == COMPLETE
    assert set(resumed.values()) <= {CACHED, COMPLETE}
    # No execution, before or after the crash, consumed an artifact whose producer did not complete.
    assert consumed_artifacts_of_incomplete_producers(metadata) == []

    # Same split membership and the same example bytes (decompressed) as a clean run.
    assert clean_run.returncode == 0
    examples, clean = live_examples(metadata), live_examples(clean_run.metadata_path)
    assert {"IdxExampleGen", DATA_HALF} <= clean.keys()
    assert examples.keys() == clean.keys()
    for producer in clean:
        assert_same_examples(producer, split_records(examples[producer]), split_records(clean[producer]))
    return resumed


def test_sigkill_during_the_beam_upscaler_then_rerun_resumes(reliability_data, clean_runs, tmp_path):
    resumed = crash_and_resume(reliability_data, tmp_path / "root", clean_runs[0], DATA_HALF, DATA_HALF)
    assert resumed["IdxExampleGen"] == CACHED and resumed["StatisticsGen"] == CACHED


@pytest.mark.slow
def test_sigkill_during_the_trainer_then_rerun_resumes(reliability_data, clean_runs, tmp_path):
    # The whole pipeline (Transform, Tuner, Trainer): minutes on 2 cores, so `make test-crash` runs it.
    resumed = crash_and_resume(reliability_data, tmp_path / "root", clean_runs[0], "Trainer", None)
    assert resumed["Transform"] == CACHED and resumed[DATA_HALF] == CACHED


def _trainer_checkpoint(root) -> dict | None:
    """The Trainer's epoch checkpoint state (models/resume.py), if one is on disk."""
    for state in (root / "pipeline" / "Trainer" / "resume").glob("*/state.json"):
        try:
            return json.loads(state.read_text())
        except (OSError, ValueError):  # being written right now
            return None
    return None


@pytest.mark.slow
def test_sigkill_during_training_then_rerun_resumes_after_the_last_finished_epoch(reliability_data, tmp_path):
    root = tmp_path / "root"
    victim = start_run(reliability_data, root, stop_after=None)
    try:
        deadline = time.monotonic() + 1800
        while (state := _trainer_checkpoint(root)) is None or state["epoch"] < 3:
            assert time.monotonic() < deadline, "the Trainer never finished 3 epochs"
            assert victim.poll() is None, "the run ended before it could be killed"
            time.sleep(0.1)
    finally:
        sigkill(victim)
    finished = _trainer_checkpoint(root)["epoch"]
    assert 3 <= finished < 15, "killed too late to tell a resume from a restart"

    rerun = start_run(reliability_data, root, stop_after=None)
    stdout, stderr = rerun.communicate(timeout=3600)
    assert rerun.returncode == 0, stderr
    assert f"resuming after epoch {finished} of 15" in stdout + stderr
    completed = [e for node, e in executions(root / "metadata.sqlite") if node == "Trainer"][-1]
    assert completed.last_known_state == COMPLETE
    run_dirs = [a.uri for a in output_artifacts(root / "metadata.sqlite", completed.id)]
    history = next(
        json.loads((Path(uri) / "history.json").read_text())
        for uri in run_dirs
        if (Path(uri) / "history.json").exists()
    )
    # The curves cover the epochs before the kill and after it: one list, no restart from epoch 1.
    assert len(history["loss"]) > finished
    assert len(history["loss"]) == len(history["val_accuracy"])
    # The checkpoint was deleted once the model was exported.
    assert _trainer_checkpoint(root) is None
    assert not list((root / "pipeline" / "Trainer" / "resume").glob("*/*"))
