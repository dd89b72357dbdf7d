"""Ctrl-C during a run, and a root whose ML Metadata store is damaged or gone: one clear answer."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3

import pytest
from ml_metadata.proto import metadata_store_pb2
from reliability.runs import executions, start_run, wait_for_line

from pipeline import cli
from pipeline.signals import INTERRUPTED_EXIT, TERMINATED_EXIT

# Runs the real pipeline: outside the fast tier (`make test-fast`).
pytestmark = pytest.mark.pipeline

CACHED = metadata_store_pb2.Execution.CACHED
COMPLETE = metadata_store_pb2.Execution.COMPLETE


@pytest.mark.parametrize(
    ("sent", "how", "exit_code"),
    [
        # What a terminal sends the foreground process group on Ctrl-C.
        (signal.SIGINT, "Ctrl-C", INTERRUPTED_EXIT),
        # What Kubernetes sends a pod's processes (and `kill`, systemd, docker stop) to stop them.
        (signal.SIGTERM, "SIGTERM", TERMINATED_EXIT),
    ],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_stopped_run_says_what_finished_and_a_rerun_resumes(
    reliability_data, tmp_path, sent, how, exit_code
):
    root = tmp_path / "root"
    run = start_run(reliability_data, root)
    wait_for_line(run, "✓ IdxExampleGen")
    os.killpg(run.pid, sent)
    stdout, stderr = run.communicate(timeout=300)

    assert run.returncode == exit_code, stdout + stderr
    assert "Traceback" not in stdout + stderr and "KeyboardInterrupt" not in stdout + stderr
    assert "TerminatedError" not in stdout + stderr
    assert "profile INTERRUPTED in" in stdout
    assert "rerun the same command to resume" in stdout
    assert f"interrupted ({how}) after " in stdout and "finished step(s)" in stdout
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


def _damage_not_mlmd(store):
    """A whole SQLite database, but another program's: not ML Metadata's tables."""
    store.unlink()
    connection = sqlite3.connect(store)
    connection.execute("CREATE TABLE notes (id INTEGER, text TEXT)")
    connection.commit()
    connection.close()


def _damage_empty_sqlite(store):
    """A whole SQLite database with no tables (ML Metadata would take it for a new store)."""
    store.unlink()
    connection = sqlite3.connect(store)
    connection.execute("VACUUM")
    connection.close()


def _damage_folder(store):
    store.unlink()
    store.mkdir()


@pytest.mark.parametrize(
    "damage, expected",
    [
        (_damage_truncate, "is damaged: "),
        (_damage_garbage_at_start, "is damaged: it does not start like an SQLite database"),
        (_damage_delete, "is missing but "),
        (_damage_not_mlmd, "is an SQLite database but not an ML Metadata store (its tables: notes)"),
        (_damage_empty_sqlite, "is empty but "),
        (_damage_folder, "is a folder, not a file"),
    ],
    ids=[
        "truncated",
        "garbage-at-start",
        "deleted-with-artifacts-kept",
        "not-mlmd",
        "empty-sqlite",
        "folder",
    ],
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
    damaged_bytes = store.read_bytes() if store.is_file() else None

    argv = ["run", "--profile", "test", "--data-dir", str(reliability_data), "--root", str(root)]
    argv.append("--allow-foreign-data")  # synthetic images: foreign data, allowed explicitly
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("fashion-tfx: error:")]
    assert len(errors) == 1, err
    assert f"{store} {expected}" in errors[0]
    assert "start from a fresh --root, or delete" in errors[0]
    # Nothing was written: the same files, and the damaged store as it was.
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name != ".run.lock") == before
    assert (store.read_bytes() if store.is_file() else None) == damaged_bytes
