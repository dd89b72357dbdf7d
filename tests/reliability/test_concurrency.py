"""Runs at the same time: different roots both succeed; the same root is refused; ML Metadata stays intact."""

from __future__ import annotations

import sqlite3
import time

import pytest
from ml_metadata.proto import metadata_store_pb2
from reliability.runs import executions, sigkill, start_run, wait_for_line

from pipeline import cli
from pipeline.local_runner import RootLock


def test_two_runs_in_different_roots_at_the_same_time_both_succeed(clean_runs):
    first, second = clean_runs
    for run in (first, second):
        assert run.returncode == 0, run.stderr
        states = {node: e.last_known_state for node, e in executions(run.metadata_path)}
        assert "IdxExampleGen" in states and "AnomalyGate" in states
        assert set(states.values()) == {metadata_store_pb2.Execution.COMPLETE}
    # They really overlapped: each run's first execution began before the other's last one ended.
    spans = []
    for run in (first, second):
        found = [e for _, e in executions(run.metadata_path)]
        spans.append(
            (
                min(e.create_time_since_epoch for e in found),
                max(e.last_update_time_since_epoch for e in found),
            )
        )
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1], spans


@pytest.mark.pipeline
def test_second_run_in_the_same_root_fails_fast_and_metadata_survives(reliability_data, tmp_path, capsys):
    root = tmp_path / "root"
    holder = start_run(reliability_data, root)
    try:
        wait_for_line(holder, "✓ IdxExampleGen")  # ML Metadata already holds executions
        started = time.monotonic()
        argv = ["run", "--profile", "test", "--data-dir", str(reliability_data), "--root", str(root)]
        argv.append("--allow-foreign-data")
        assert cli.main(argv) == 2
        elapsed = time.monotonic() - started
    finally:
        sigkill(holder)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1, err
    assert errors[0].startswith(
        f"fashion-tfx: error: another fashion-tfx run (pid {holder.pid}) is using {root}"
    )
    assert elapsed < 20, f"the refusal took {elapsed:.1f}s"

    # The killed holder's lock died with it, and its ML Metadata store is readable and consistent.
    with RootLock(root):
        pass
    connection = sqlite3.connect(root / "metadata.sqlite")
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()
    nodes = {node: e.last_known_state for node, e in executions(root / "metadata.sqlite")}
    assert nodes["IdxExampleGen"] == metadata_store_pb2.Execution.COMPLETE
    # The progress line comes just before the execution is registered, so the kill may beat it.
    running = metadata_store_pb2.Execution.RUNNING
    assert nodes.get("StatisticsGen", running) == running
