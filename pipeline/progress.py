"""The run's console: which component runs and for how long, read from ML Metadata's execution states."""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path
from typing import TextIO

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from models.console import PROGRESS_LOGGER_NAME
from pipeline.metadata import read_only_store

Execution = metadata_store_pb2.Execution
FINISHED = {Execution.COMPLETE: "", Execution.CACHED: "cached", Execution.FAILED: "FAILED"}

# Library warnings that --verbose does not echo to the console (they stay in the run's log file), each
# with the reason it is noise here rather than something to act on.
KNOWN_LIBRARY_WARNINGS = {
    # TFX's resolver asks ML Metadata for a filter this MLMD version lacks, then filters in Python.
    r"ArtifactQuery\.property_predicate is not supported": "TFX falls back to filtering in Python",
    # Google's client libraries warn on every start that Python 3.10 support will end (TFX 1.16 needs it).
    r"non-supported Python version \(3\.10": "TFX 1.16 runs on Python 3.9-3.10 only",
    # Pusher: TFX's own deprecation of custom_executor_spec; another change replaces our Pusher.
    r"custom_executor_spec": "TFX's deprecation of a component argument, not a problem of this run",
    # Beam's pure-Python CRC fallback; the upscaler reads TFRecords with TensorFlow's C++ reader instead.
    r"Couldn't find python-snappy": "Beam's own TFRecord IO is not on the hot path here",
    # Transform is deliberately not materialised (pixels to 0..1 happen in the model's input pipeline).
    r"Using the in-place Transform": "by design: see pipeline/pipeline.py",
}


class _KnownNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(re.search(pattern, message) for pattern in KNOWN_LIBRARY_WARNINGS)


class ProgressDisplay:
    """Shows each component as ML Metadata records it: running (on a terminal), then finished or cached.

    On a terminal one status line is redrawn in place; elsewhere (a pipe, a file, CI) only plain lines
    are written, one per finished component, and no escape codes. Lines logged on the progress logger
    (tuning trials, training epochs) are shown too; with `verbose`, so are library warnings.
    """

    def __init__(
        self, metadata_path: Path, since_ms: int, stream: TextIO, verbose: bool = False, poll_seconds=0.5
    ):
        self._metadata_path = metadata_path
        self._since_ms = since_ms
        self._stream = stream
        self._verbose = verbose
        self._poll_seconds = poll_seconds
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._store: metadata_store.MetadataStore | None = None
        self._shown: dict[int, int] = {}  # execution id -> last state shown
        self._running: dict[int, tuple[str, float]] = {}  # execution id -> (node id, seen at)
        self._status = ""  # the transient status line, on a terminal only
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, daemon=True, name="progress-display")
        self._handlers: list[tuple[logging.Logger, logging.Handler]] = []

    # -- what ML Metadata says ------------------------------------------------------------------------
    def _executions(self) -> list[tuple[str, Execution]]:
        if self._store is None:
            if not self._metadata_path.exists():
                return []
            self._store = read_only_store(self._metadata_path)
        found = []
        for context in self._store.get_contexts_by_type("node"):
            node_id = context.name.split(".", 1)[-1]
            found += [
                (node_id, e)
                for e in self._store.get_executions_by_context(context.id)
                if e.create_time_since_epoch >= self._since_ms
            ]
        return sorted(found, key=lambda pair: (pair[1].last_update_time_since_epoch, pair[1].id))

    def poll(self) -> None:
        """Reads the execution states once and shows what changed since the last read."""
        with self._lock:
            try:
                executions = self._executions()
            except Exception:  # noqa: BLE001  (the runner may hold a write lock; the next poll reads again)
                self._store = None
                return
            for node_id, execution in executions:
                state = execution.last_known_state
                if self._shown.get(execution.id) == state:
                    continue
                self._shown[execution.id] = state
                if state == Execution.RUNNING:
                    self._running[execution.id] = (node_id, time.monotonic())
                elif state in FINISHED:
                    self._running.pop(execution.id, None)
                    seconds = (
                        execution.last_update_time_since_epoch - execution.create_time_since_epoch
                    ) / 1000
                    mark = "✗" if state == Execution.FAILED else "✓"
                    what = FINISHED[state] or f"{seconds:.1f}s"
                    self._line(f"{mark} {node_id} {what}")
            self._redraw_status()

    # -- writing ---------------------------------------------------------------------------------------
    def _redraw_status(self) -> None:
        if not self._tty:
            return
        if self._running:
            node_id, seen = next(iter(self._running.values()))
            status = f"▸ {node_id} running… {time.monotonic() - seen:.0f}s"
        else:
            status = ""
        if status != self._status:
            self._stream.write("\r\033[K" + status)
            self._stream.flush()
            self._status = status

    def _line(self, text: str) -> None:
        """Writes a permanent line (above the status line, on a terminal)."""
        if self._tty:
            self._stream.write("\r\033[K" + text + "\n")
            self._status = ""  # overwritten: the next redraw writes it again below the new line
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def line(self, text: str) -> None:
        """Shows a line of text on the console, after the components that finished before it."""
        with self._lock:
            self.poll()
            self._line(text)
            self._redraw_status()

    def _poll_loop(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            self.poll()

    # -- lifetime --------------------------------------------------------------------------------------
    def __enter__(self) -> ProgressDisplay:
        display = self

        class ConsoleHandler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                text = record.getMessage()
                if record.name != PROGRESS_LOGGER_NAME:
                    text = f"  {record.levelname.lower()}: {text.splitlines()[0][:300]}"
                display.line(text)

        progress = logging.getLogger(PROGRESS_LOGGER_NAME)
        progress.setLevel(logging.INFO)
        self._add_handler(progress, ConsoleHandler(logging.INFO))
        if self._verbose:
            warnings_handler = ConsoleHandler(logging.WARNING)
            warnings_handler.addFilter(_KnownNoise())
            warnings_handler.addFilter(lambda record: record.name != PROGRESS_LOGGER_NAME)
            self._add_handler(logging.getLogger(), warnings_handler)
        self._poller.start()
        return self

    def _add_handler(self, logger: logging.Logger, handler: logging.Handler) -> None:
        logger.addHandler(handler)
        self._handlers.append((logger, handler))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._poller.join(timeout=10)
        self.poll()  # the last states, so every finished component is shown before the summary
        with self._lock:
            self._running.clear()
            self._redraw_status()
        for logger, handler in self._handlers:
            logger.removeHandler(handler)
