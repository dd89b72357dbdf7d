"""tensorflow-io's S3 filesystem for TensorFlow: registering it, and leaving a process that used it.

Checked against tensorflow-io 0.37.1, TensorFlow 2.16.2 and CPython 3.10. Importing `tensorflow_io`
registers its `s3://` filesystem with TensorFlow. A process that used that filesystem aborts at
interpreter exit ("pure virtual method called", SIGABRT, exit code 134): the S3 client the plugin keeps
in a static object is destroyed during C++ static destruction, after the AWS SDK's log system that its
`Aws::Http::CurlHandleContainer` destructor then logs to (tensorflow/io issues #1912 and #2039; fixed
by tensorflow/io pull request #2120, in no release on PyPI). `exit_skipping_native_destructors` runs
Python's own shutdown work with CPython's private `atexit._run_exitfuncs` (what `Py_FinalizeEx` calls)
and then leaves by `os._exit`. `tests/kubeflow/test_s3_exit_code.py` fails if either changes: the
real exit codes must come out, and the abort must still happen without this (once a fixed tensorflow-io
is pinned, drop the work-around).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import NoReturn


def register_tensorflow_s3_filesystem() -> None:
    """Registers tensorflow-io's `s3://` filesystem with TensorFlow in this process (idempotent)."""
    import tensorflow_io  # noqa: F401  (importing it registers the s3:// filesystem)


def exit_skipping_native_destructors(code: int) -> NoReturn:
    """Runs the atexit handlers, flushes the standard streams and ends the process with `code`."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken stream: nothing to flush
            stream.flush()
    os._exit(code)
