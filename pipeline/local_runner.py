"""Runs the pipeline on TFX's LocalDagRunner (Beam DirectRunner, ML Metadata in SQLite under the root)."""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from absl import logging as absl_logging

from fashion_tfx.pipeline.config import PipelineConfig, StorageRoot

if TYPE_CHECKING:
    from fashion_tfx.pipeline.metadata import ComponentRun


class StorageError(RuntimeError):
    """The run's root cannot be written; raised before any work starts."""


class RunInProgressError(RuntimeError):
    """Another run holds the same root; two runs must not share one ML Metadata store at once."""


# A run refuses to start below this much free space: ML Metadata (SQLite) fails mid-run with "database
# or disk is full" when the disk fills, so a nearly full disk is refused before any work starts.
MIN_FREE_BYTES = 64 << 20


def check_writable(path: Path, min_free_bytes: int = MIN_FREE_BYTES) -> None:
    """Creates `path` if needed, proves it writable with a probe file and checks its free space.

    Raises:
        StorageError: naming the path and the operating system's reason (or the free space left).
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        try:
            probe.write_bytes(b"\0" * 4096)
        finally:
            probe.unlink(missing_ok=True)
        free = shutil.disk_usage(path).free
    except OSError as err:
        reason = "disk full" if err.errno == errno.ENOSPC else err.strerror or str(err)
        raise StorageError(f"output root {path} is not writable: {reason}") from err
    if free < min_free_bytes:
        raise StorageError(
            f"output root {path} is not writable: disk full ({free / 2**20:.1f} MB free, a run needs at "
            f"least {min_free_bytes / 2**20:.0f} MB); free some space or pass a different --root"
        )


def check_root(config: PipelineConfig) -> None:
    """Proves, before any work, that the run can write its root and its local state.

    A local root (and its pipeline and serving folders) is probed with a real write; a bucket root
    with a probe object, and its local ML Metadata folder like a local root.

    Raises:
        StorageError: naming the root and the reason.
    """
    from fashion_tfx.pipeline.storage import BucketError, check_bucket_writable

    if isinstance(config.root, StorageRoot):
        try:
            check_bucket_writable(str(config.root))
        except BucketError as err:
            raise StorageError(str(err)) from err
        check_writable(config.state_dir)
    else:
        for path in (config.root, config.pipeline_root, config.serving_dir, config.state_dir):
            check_writable(path)


class RootLock:
    """An exclusive, non-blocking lock on a run root, released when the process ends (even on SIGKILL)."""

    def __init__(self, root: Path):
        self._path = root / ".run.lock"
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


class ProgressDisplay(logging.Handler):
    """Shows which component runs and for how long, from the LocalDagRunner's own log lines."""

    def __init__(self, stream: TextIO = sys.stderr, verbose: bool = False):
        super().__init__(level=logging.INFO)
        self._stream = stream
        self._verbose = verbose
        self._tty = stream.isatty()
        self._current: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        with self._lock:
            if record.msg == "Component %s is running.":
                self._current = (record.args[0], time.monotonic())
                self._write(f"▸ {record.args[0]} running", final=not self._tty)
            elif record.msg == "Component %s is finished.":
                elapsed = time.monotonic() - self._current[1] if self._current else 0.0
                self._write(f"✓ {record.args[0]} finished in {elapsed:.1f}s", final=True)
                self._current = None
            elif record.levelno >= logging.ERROR or (self._verbose and record.levelno >= logging.WARNING):
                self._write(f"  {record.levelname.lower()}: {message.splitlines()[0][:300]}", final=True)

    def _write(self, text: str, final: bool) -> None:
        if self._tty:
            self._stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self._keep_listening()
            with self._lock:
                if self._current and self._tty:
                    name, started = self._current
                    self._write(f"▸ {name} running… {time.monotonic() - started:.0f}s", final=False)

    def _keep_listening(self) -> None:
        # A safety net: code run mid-pipeline may still reconfigure logging and silence these lines.
        absl_logger = logging.getLogger("absl")
        if absl_logger.level != logging.INFO or absl_logger.disabled or self not in absl_logger.handlers:
            absl_logger.disabled = False
            absl_logging.set_verbosity(absl_logging.INFO)
            absl_logger.propagate = False
            absl_logger.handlers = [self]

    def __enter__(self) -> ProgressDisplay:
        absl_logger = logging.getLogger("absl")
        self._saved = (absl_logger.level, absl_logger.propagate, list(absl_logger.handlers))
        # Through absl's own verbosity, not just the logger's level: TensorFlow's SavedModel writer
        # lowers verbosity for a moment and restores it from absl's setting.
        absl_logging.set_verbosity(absl_logging.INFO)
        absl_logger.propagate = False
        absl_logger.handlers = [self]
        self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        absl_logger = logging.getLogger("absl")
        level, absl_logger.propagate, absl_logger.handlers = self._saved
        absl_logging.set_verbosity(absl_logging.WARNING)
        absl_logger.setLevel(level)  # setLevel, not assignment: it also clears logging's level cache


@dataclasses.dataclass
class RunResult:
    """What a run did: its components, whether it succeeded, and the error if not."""

    config: PipelineConfig
    components: list[ComponentRun]
    seconds: float
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def component(self, node_id: str) -> ComponentRun | None:
        """Returns the named component's execution in this run, if it ran."""
        return next((c for c in self.components if c.node_id == node_id), None)


def run_pipeline(config: PipelineConfig, *, verbose: bool = False, stream: TextIO = sys.stderr) -> RunResult:
    """Runs the pipeline locally and reads back, from ML Metadata, what each component did.

    Raises:
        StorageError: the root is not writable (before anything runs).
        RunInProgressError: another run holds the root.
    """
    # Imported here so that `--help` and config errors answer without loading TensorFlow.
    from tfx.orchestration import metadata as tfx_metadata
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from fashion_tfx.pipeline.metadata import component_runs
    from fashion_tfx.pipeline.pipeline import create_pipeline

    check_root(config)
    with RootLock(config.state_dir):
        started = time.time()
        since_ms = int(started * 1000)
        pipeline = create_pipeline(
            config, tfx_metadata.sqlite_metadata_connection_config(str(config.metadata_path))
        )
        error = None
        with ProgressDisplay(stream=stream, verbose=verbose):
            try:
                LocalDagRunner().run(pipeline)
            except Exception as err:  # reported in the summary with the failing component
                error = err
        components = component_runs(config.metadata_path, since_ms) if config.metadata_path.exists() else []
        return RunResult(config, components, time.time() - started, error)
