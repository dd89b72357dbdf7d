"""Ctrl-C during a run, and a root whose ML Metadata store is damaged or gone: one clear answer."""

from __future__ import annotations

import os
import shutil
import signal

import pytest
from ml_metadata.proto import metadata_store_pb2
from reliability.runs import executions, start_run, wait_for_line

from pipeline import cli

# Runs the real pipeline: outside the fast tier (`make test-fast`).
pytestmark = pytest.mark.pipeline

CACHED = metadata_store_pb2.Execution.CACHED
COMPLETE = metadata_store_pb2.Execution.COMPLETE


def test_ctrl_c_stops_cleanly_says_what_finished_and_a_rerun_resumes(reliability_data, tmp_path):
    root = tmp_path / "root"
    run = start_run(reliability_data, root)
    wait_for_line(run, "✓ IdxExampleGen")
    os.killpg(run.pid, signal.SIGINT)  # what a terminal sends the foreground process group on Ctrl-C
    stdout, stderr = run.communicate(timeout=300)

    assert run.returncode == cli.INTERRUPTED_EXIT, stdout + stderr
    assert "Traceback" not in stdout + stderr and "KeyboardInterrupt" not in stdout + stderr
    assert "profile INTERRUPTED in" in stdout
    assert "rerun the same command to resume" in stdout
    assert "interrupted (Ctrl-C) after " in stdout and "finished step(s)" in stdout
    finished = {node for node, e in executions(root / "metadata.sqlite") if e.last_known_state == COMPLETE}
    assert "IdxExampleGen" in finished

    # The same command resumes: what had finished is reused.
    last_before = max(e.id for _, e in executions(root / "metadata.sqlite"))
    rerun = start_run(reliability_data, root)
    out, err = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, err
    resumed = {
        node: e.last_known_state for node, e in executions(root / "metadata.sqlite") if e.id > last_before
    }
    assert resumed["IdxExampleGen"] == CACHED
    assert {node for node, state in resumed.items() if state == CACHED} >= finished - {
        node for node in finished if node.startswith("latest_blessed")
    }


def _damage_truncate(store):
    store.write_bytes(store.read_bytes()[: store.stat().st_size // 3])


def _damage_garbage_at_start(store):
    content = bytearray(store.read_bytes())
    content[:512] = os.urandom(512)
    store.write_bytes(bytes(content))


def _damage_delete(store):
    store.unlink()


@pytest.mark.parametrize(
    "damage, expected",
    [
        (_damage_truncate, "is damaged: "),
        (_damage_garbage_at_start, "is damaged: it does not start like an SQLite database"),
        (_damage_delete, "is missing but "),
    ],
    ids=["truncated", "garbage-at-start", "deleted-with-artifacts-kept"],
)
def test_a_damaged_or_missing_store_is_one_line_and_exit_2(
    reliability_data, clean_runs, tmp_path, capsys, damage, expected
):
    clean, _ = clean_runs
    assert clean.returncode == 0, clean.stderr
    root = tmp_path / "root"
    shutil.copytree(clean.root, root)
    store = root / "metadata.sqlite"
    damage(store)
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name != ".run.lock")
    damaged_bytes = store.read_bytes() if store.exists() else None

    argv = ["run", "--profile", "test", "--data-dir", str(reliability_data), "--root", str(root)]
    argv.append("--allow-foreign-data")  # synthetic images: foreign data, allowed explicitly
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("fashion-tfx: error:")]
    assert len(errors) == 1, err
    assert f"ML Metadata store {store} {expected}" in errors[0]
    assert "start from a fresh --root, or delete" in errors[0]
    # Nothing was written: the same files, and the damaged store as it was.
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name != ".run.lock") == before
    assert (store.read_bytes() if store.exists() else None) == damaged_bytes
