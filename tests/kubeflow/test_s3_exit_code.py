"""A process that used TensorFlow's S3 filesystem exits with its own code (pipeline.s3.exit_process).

tensorflow-io 0.37.1 aborts such a process at interpreter exit ("pure virtual method called", exit code
134); the second test shows that upstream bug is still there, and fails once a release fixes it (then
`exit_process` can become a plain `sys.exit`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from s3_server import BUCKET

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _script(exit_call: str) -> str:
    return textwrap.dedent(
        f"""
        import sys
        import tensorflow as tf
        from pipeline.s3 import exit_process, register_s3_filesystem

        register_s3_filesystem()
        path = "s3://{BUCKET}/exit-code/" + sys.argv[1]
        with tf.io.gfile.GFile(path, "w") as out:
            out.write("written")
        assert tf.io.gfile.GFile(path).read() == "written"
        print("done", flush=True)
        {exit_call}
        """
    )


def _run(s3, exit_call: str, name: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **s3.environment, "PYTHONPATH": REPO}
    return subprocess.run(
        [sys.executable, "-c", _script(exit_call), name], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("code", [0, 3])
def test_exit_process_reports_the_real_exit_code_after_s3_use(s3, code):
    process = _run(s3, f"exit_process({code})", f"honest-{code}")
    assert process.stdout.strip() == "done", process.stderr[-2000:]
    assert process.returncode == code, process.stderr[-2000:]
    assert "pure virtual method called" not in process.stderr


def test_without_it_tensorflow_io_aborts_at_exit(s3):
    process = _run(s3, "sys.exit(0)", "aborted")
    assert process.stdout.strip() == "done", process.stderr[-2000:]
    assert process.returncode == -6 or process.returncode == 134, process.returncode
    assert "pure virtual method called" in process.stderr
