"""The run's log file: everything the libraries print during a run goes there, in full."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from absl import logging as absl_logging

# Loggers the CLI keeps at ERROR on the console; the log file gets everything they say at INFO and up.
LIBRARY_LOGGERS = ("absl", "apache_beam", "tensorflow", "tfx", "keras_tuner", "ml_metadata")


LOG_FOLDER = "logs"  # in the run's state folder


def new_log_path(root: Path) -> Path:
    """Returns `<root>/logs/run-<UTC time>.log`, a new file name for this run."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return root / LOG_FOLDER / f"run-{stamp}-{os.getpid()}.log"


class LibraryOutputToFile:
    """Sends the process's standard output and error, Python logging and warnings to a log file.

    Redirection is at the file-descriptor level, so it also catches what C++ code (TensorFlow, gRPC,
    Beam), progress bars and `print` calls write. `console` stays on the original terminal or pipe.
    The log file is local: the local runner's root is a local folder (ML Metadata's SQLite needs one).
    """

    def __init__(self, path: Path, console: TextIO):
        self.path = path
        self.write_error: OSError | None = None  # why the log file could not be completed, if it could not
        self._console_in = console
        self.console: TextIO = console

    def __enter__(self) -> LibraryOutputToFile:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", buffering=1, encoding="utf-8")
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            console_fd = self._console_in.fileno()
        except (AttributeError, OSError, ValueError):
            console_fd = None
        if console_fd in (1, 2):
            # The console is one of the descriptors about to be redirected: keep a copy of it.
            self.console = os.fdopen(os.dup(console_fd), "w", buffering=1, encoding="utf-8")
        self._saved_fds = {fd: os.dup(fd) for fd in (1, 2)}
        for fd in (1, 2):
            os.dup2(self._file.fileno(), fd)

        root = logging.getLogger()
        self._saved_root = (root.level, list(root.handlers))
        handler = logging.StreamHandler(self._file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname).1s %(name)s: %(message)s"))
        root.handlers = [handler]
        root.setLevel(logging.INFO)
        self._saved_levels = {}
        for name in LIBRARY_LOGGERS:
            logger = logging.getLogger(name)
            self._saved_levels[name] = (logger.level, logger.propagate, list(logger.handlers))
            logger.setLevel(logging.INFO)
            logger.propagate = True
            logger.handlers = []
        # Through absl's own verbosity, not just the logger's level: TensorFlow's SavedModel writer
        # lowers it for a moment and restores it from absl's setting.
        absl_logging.set_verbosity(absl_logging.INFO)
        logging.captureWarnings(True)
        return self

    def _quietly(self, operation) -> None:
        try:
            operation()
        except OSError as err:  # a full disk, a quota: said in the summary (see `write_error`)
            self.write_error = self.write_error or err

    def __exit__(self, *exc) -> None:
        logging.captureWarnings(False)
        absl_logging.set_verbosity(absl_logging.WARNING)
        for name, (level, propagate, handlers) in self._saved_levels.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)  # setLevel, not assignment: it also clears logging's level cache
            logger.propagate, logger.handlers = propagate, handlers
        root = logging.getLogger()
        root.setLevel(self._saved_root[0])
        root.handlers = self._saved_root[1]
        # What Python buffered belongs to the log, not to the console. On a full disk the log cannot take
        # it: the log is then incomplete (`write_error`), and the run's summary must still be printed.
        for stream in (sys.stdout, sys.stderr, self._file):
            self._quietly(stream.flush)
        for fd, saved in self._saved_fds.items():
            os.dup2(saved, fd)
            os.close(saved)
        self._quietly(self._file.close)
        if self.console is not self._console_in:
            self.console.close()
            self.console = self._console_in
