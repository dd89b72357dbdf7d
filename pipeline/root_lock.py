"""One run per root: an exclusive lock file that the operating system releases when the process dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO

LOCK_FILE = ".run.lock"  # in the run's state folder, beside ML Metadata


class RunInProgressError(RuntimeError):
    """Another run holds the same root; two runs must not share one ML Metadata store at once."""


class RootLock:
    """An exclusive, non-blocking lock on a run root, released when the process ends (even on SIGKILL)."""

    def __init__(self, root: Path):
        self._path = root / LOCK_FILE
        self._file: TextIO | None = None

    def __enter__(self) -> RootLock:
        self._file = open(self._path, "a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "another process"
            self._file.close()
            raise RunInProgressError(
                f"another fashion-tfx run ({holder}) is using {self._path.parent}; wait for it to finish "
                f"or pass a different --root"
            ) from None
        self._file.truncate(0)
        self._file.write(f"pid {os.getpid()}")
        self._file.flush()
        return self

    def __exit__(self, *exc) -> None:
        assert self._file is not None
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
