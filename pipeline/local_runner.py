"""Runs the pipeline on TFX's LocalDagRunner (Beam DirectRunner, ML Metadata in SQLite under the root)."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pipeline.config import CHECKOUT_SETUP_FILE, PipelineConfig
from pipeline.root_lock import RootLock, RunInProgressError  # noqa: F401  (part of this API)
from pipeline.signals import INTERRUPTED_EXIT, interruption
from pipeline.storage import (  # noqa: F401  (part of this API)
    MetadataStoreError,
    StorageError,
    check_metadata_store,
    check_root,
    check_writable,
)

if TYPE_CHECKING:
    from pipeline.metadata import ComponentRun


class RunInterruptedError(Exception):
    """The run was stopped with Ctrl-C (SIGINT) or SIGTERM; what had finished is kept and a rerun resumes.

    Attributes:
        how: `Ctrl-C` or `SIGTERM`.
        exit_code: 130 or 143, as the shell reports a command stopped by that signal.
    """

    def __init__(self, how: str = "Ctrl-C", exit_code: int = INTERRUPTED_EXIT):
        super().__init__(how)
        self.how = how
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"interrupted ({self.how})"


class ServedModelMissingError(RuntimeError):
    """The run's model is recorded as pushed and checked, but its version folder is no longer there."""


def missing_release(components: list[ComponentRun]) -> str | None:
    """Says what the run records as served but the serving folder no longer holds, or None.

    A rerun of an unchanged pipeline reuses the Pusher's and the smoke check's executions; a version
    folder deleted since (by hand, by a clean-up) would otherwise be reported as served.
    """
    from tfx.dsl.io import fileio

    from components.pusher.properties import PUSHED_DESTINATION_PROPERTY, PUSHED_PROPERTY
    from pipeline import nodes

    finished = {c.node_id: c for c in components if c.state in ("executed", "cached")}
    pusher = finished.get(nodes.PUSHER)
    if pusher is None or nodes.SMOKE_CHECK not in finished:
        return None
    for _, props in pusher.outputs.get("pushed_model", []):
        destination = props.get(PUSHED_DESTINATION_PROPERTY)
        if props.get(PUSHED_PROPERTY) != 1 or not destination or fileio.exists(destination):
            continue
        return (
            f"the model pushed as version {props.get('pushed_version')} is NOT served: {destination} no "
            "longer exists, and the steps reused from an earlier run did not publish it again; rerun with "
            "--no-cache to push, check and publish it anew"
        )
    return None


@dataclasses.dataclass
class RunResult:
    """What a run did: its components, whether it succeeded, the error if not, and its log file."""

    config: PipelineConfig
    components: list[ComponentRun]
    seconds: float
    error: BaseException | None = None
    log_path: Path | None = None
    metadata_error: str | None = None  # why ML Metadata could not be read back, if it could not
    log_error: str | None = None  # why the log file is incomplete (a full disk), if it is

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def interrupted(self) -> bool:
        return isinstance(self.error, RunInterruptedError)

    def component(self, node_id: str) -> ComponentRun | None:
        """Returns the named component's execution in this run, if it ran."""
        return next((c for c in self.components if c.node_id == node_id), None)


def run_pipeline(
    config: PipelineConfig,
    *,
    verbose: bool = False,
    stream: TextIO | None = None,
    stop_after: str | None = None,
) -> RunResult:
    """Runs the pipeline locally and reads back, from ML Metadata, what each component did.

    The console (`stream`, default standard error) shows only the progress display; everything the
    libraries print goes to a log file under the root (`RunResult.log_path`). `stop_after` ends the
    pipeline with that node (`pipeline.nodes`), e.g. `nodes.UPSCALER` for the data half.

    Raises:
        StorageError: the root is not writable (before anything runs).
        MetadataStoreError: the root's ML Metadata store is damaged, or missing beside old artifacts.
        RunInProgressError: another run holds the root.
    """
    # Imported here so that `--help` and config errors answer without loading TensorFlow (and before
    # the log file takes over the console, so TensorFlow sets up its logging the usual way).
    from tfx.orchestration import metadata as tfx_metadata
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from pipeline.metadata import component_runs
    from pipeline.pipeline import create_pipeline
    from pipeline.progress import ProgressDisplay
    from pipeline.run_log import LibraryOutputToFile, new_log_path

    stream = stream or sys.stderr
    check_root(config)
    with RootLock(config.state_dir):
        check_metadata_store(config.metadata_path, config.pipeline_root)
        started = time.time()
        since_ms = int(started * 1000)
        error: BaseException | None = None
        log = LibraryOutputToFile(new_log_path(config.state_dir), console=stream)
        with log, ProgressDisplay(config.metadata_path, since_ms, log.console, verbose=verbose):
            # Built inside: what TFX says while building the pipeline belongs in the log too.
            pipeline = create_pipeline(
                config,
                tfx_metadata.sqlite_metadata_connection_config(str(config.metadata_path)),
                stop_after,
                setup_file=str(CHECKOUT_SETUP_FILE) if CHECKOUT_SETUP_FILE.is_file() else None,
            )
            try:
                LocalDagRunner().run(pipeline)
            except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM (pipeline.signals)
                error = RunInterruptedError(*interruption(interrupt))
            except Exception as err:  # reported in the summary with the failing component
                error = err
        components: list[ComponentRun] = []
        metadata_error = None
        try:
            components = (
                component_runs(config.metadata_path, since_ms) if config.metadata_path.exists() else []
            )
        except Exception as err:  # noqa: BLE001  (a store damaged mid-run: say so in the summary)
            metadata_error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        if error is None:
            # A cached release is ML Metadata's memory of a push; the serving folder is what is served.
            missing = missing_release(components)
            error = ServedModelMissingError(missing) if missing else None
        log_error = log.write_error.strerror if log.write_error else None
        seconds = time.time() - started
        return RunResult(config, components, seconds, error, log.path, metadata_error, log_error)
