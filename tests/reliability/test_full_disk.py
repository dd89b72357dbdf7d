"""A disk that fills up, under the run's root or under its console: one line, an honest exit code, a resume.

Real tmpfs mounts: an 80 MB disk for the root, filled while the run works, and a full 1 MB disk that
standard output (and error) are redirected to.
"""

from __future__ import annotations

import subprocess

import pytest
from ml_metadata.proto import metadata_store_pb2
from reliability.runs import CLI, REPO, executions, start_run, wait_for_line

from pipeline import nodes
from pipeline.cli import CONSOLE_LOST_EXIT

# Runs the real pipeline: outside the fast tier (`make test-fast`).
pytestmark = pytest.mark.pipeline

CACHED = metadata_store_pb2.Execution.CACHED
COMPLETE = metadata_store_pb2.Execution.COMPLETE


def _fill(disk) -> None:
    with open(disk / "filler", "wb") as filler, pytest.raises(OSError, match="No space left"):
        while True:
            filler.write(b"\0" * (1 << 20))
            filler.flush()


def test_a_disk_that_fills_during_a_run_is_one_line_and_the_rerun_resumes(reliability_data, mount_tmpfs):
    disk = mount_tmpfs("80m")
    root = disk / "root"
    # Up to StatisticsGen: the fill comes after ExampleGen, and StatisticsGen still has to write.
    run = start_run(reliability_data, root, stop_after=nodes.STATISTICS_GEN)
    wait_for_line(run, "✓ IdxExampleGen")
    _fill(disk)
    stdout, stderr = run.communicate(timeout=600)

    assert run.returncode == 1, stdout + stderr  # not a signal (exit 139 was a segmentation fault)
    assert "Traceback" not in stdout + stderr and "sys.excepthook" not in stdout + stderr
    assert "FAILED in" in stdout, stderr
    error = stdout.strip().splitlines()[-1]
    assert error.startswith("error in ") and f"the disk holding {root} is full (" in error, stdout
    assert "UPDATE `" not in error and "INSERT INTO" not in error  # ML Metadata's SQL stays out

    finished = {node for node, e in executions(root / "metadata.sqlite") if e.last_known_state == COMPLETE}
    assert nodes.EXAMPLE_GEN in finished
    last_before = max(e.id for _, e in executions(root / "metadata.sqlite"))

    (disk / "filler").unlink()
    rerun = start_run(reliability_data, root, stop_after=nodes.STATISTICS_GEN)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err[-3000:]
    resumed = {
        node: e.last_known_state for node, e in executions(root / "metadata.sqlite") if e.id > last_before
    }
    assert resumed[nodes.EXAMPLE_GEN] == CACHED, resumed


@pytest.mark.parametrize("stderr_on_full_disk", [False, True], ids=["stderr-elsewhere", "stderr-full-too"])
def test_output_onto_a_full_disk_is_one_line_or_silent_never_a_crash(
    tiny_idx_dir, mount_tmpfs, tmp_path, stderr_on_full_disk
):
    disk = mount_tmpfs("1m")
    _fill(disk)
    stderr_path = (disk if stderr_on_full_disk else tmp_path) / "stderr.txt"
    with open(disk / "stdout.txt", "w") as stdout, open(stderr_path, "w") as stderr:
        process = subprocess.run(
            [*CLI, "data", "--data-dir", str(tiny_idx_dir), "--no-download"],
            cwd=REPO,
            stdout=stdout,
            stderr=stderr,
            timeout=120,
        )
    assert process.returncode == CONSOLE_LOST_EXIT  # not 139 (SIGSEGV), not 120 (Python's flush at exit)
    written = stderr_path.read_text()
    if stderr_on_full_disk:
        assert written == ""  # nothing can be said; the exit code says it
    else:
        assert written == "fashion-tfx: error: cannot write the output: No space left on device\n", written
