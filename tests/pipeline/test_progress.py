"""The progress display, driven by execution states in a real ML Metadata store (no log text involved)."""

from __future__ import annotations

import io
import logging
import re

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from models.console import PROGRESS_LOGGER_NAME
from pipeline.progress import ProgressDisplay

Execution = metadata_store_pb2.Execution


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _store(path):
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    return metadata_store.MetadataStore(config)


def _start(store, node_id: str) -> Execution:
    """Records a RUNNING execution of `node_id` the way TFX does: in the node's context."""
    node_type = metadata_store_pb2.ContextType(name="node")
    exec_type = metadata_store_pb2.ExecutionType(name=f"test.{node_id}")
    context = metadata_store_pb2.Context(type_id=store.put_context_type(node_type), name=f"p.{node_id}")
    [context.id] = store.put_contexts([context])
    execution = Execution(type_id=store.put_execution_type(exec_type), last_known_state=Execution.RUNNING)
    execution.id, _, _ = store.put_execution(execution, [], [context])
    return execution


def _finish(store, execution: Execution, state=Execution.COMPLETE) -> None:
    execution.last_known_state = state
    store.put_executions([execution])


def test_plain_lines_only_when_not_a_terminal(tmp_path):
    path = tmp_path / "metadata.sqlite"
    store = _store(path)
    stream = io.StringIO()
    display = ProgressDisplay(path, since_ms=0, stream=stream, poll_seconds=60)
    with display:
        upscaler = _start(store, "ImageUpscaler")
        display.poll()
        assert stream.getvalue() == ""  # running: nothing to say on a pipe
        _finish(store, upscaler)
        logging.getLogger(PROGRESS_LOGGER_NAME).info("  trial 1/2  cnn  val_accuracy 0.500  best 0.500  3s")
        _finish(store, _start(store, "Transform"), Execution.CACHED)
        _finish(store, _start(store, "Trainer"), Execution.FAILED)
    lines = stream.getvalue().splitlines()
    # The finished component comes before the line logged after it finished.
    assert lines[0].startswith("✓ ImageUpscaler ") and lines[0].endswith("s")
    assert lines[1] == "  trial 1/2  cnn  val_accuracy 0.500  best 0.500  3s"
    assert lines[2:] == ["✓ Transform cached", "✗ Trainer FAILED"]
    assert "\x1b" not in stream.getvalue() and "\r" not in stream.getvalue()


def test_a_terminal_gets_a_status_line_redrawn_in_place(tmp_path):
    path = tmp_path / "metadata.sqlite"
    store = _store(path)
    stream = Terminal()
    with ProgressDisplay(path, since_ms=0, stream=stream, poll_seconds=60) as display:
        tuner = _start(store, "Tuner")
        display.poll()
        assert stream.getvalue() == "\r\x1b[K▸ Tuner running… 0s"
        _finish(store, tuner)
    # The status line is replaced by the permanent one, and nothing is left after it.
    assert re.fullmatch(r"\r\x1b\[K▸ Tuner running… 0s\r\x1b\[K✓ Tuner \d+\.\ds\n", stream.getvalue())


def test_library_warnings_reach_the_console_only_with_verbose_and_known_noise_never(tmp_path):
    path = tmp_path / "metadata.sqlite"
    library = logging.getLogger("a_library")
    library.setLevel(logging.WARNING)  # whatever an earlier test set the root logger to
    for verbose in (False, True):
        stream = io.StringIO()
        with ProgressDisplay(path, since_ms=0, stream=stream, verbose=verbose, poll_seconds=60):
            library.warning("ArtifactQuery.property_predicate is not supported.")
            library.warning("something worth knowing")
        expected = "  warning: something worth knowing\n" if verbose else ""
        assert stream.getvalue() == expected
