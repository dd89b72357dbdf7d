"""Reading what a run did back out of ML Metadata: executions, their states and output artifacts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata as tfx_metadata

STATES = {
    metadata_store_pb2.Execution.NEW: "new",
    metadata_store_pb2.Execution.RUNNING: "running",
    metadata_store_pb2.Execution.COMPLETE: "executed",
    metadata_store_pb2.Execution.FAILED: "failed",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.CANCELED: "canceled",
}


@dataclasses.dataclass
class ComponentRun:
    """One component's execution in a run.

    Attributes:
        node_id: the component's id in the pipeline.
        state: executed, cached, resolved (a resolver's look-up), failed, running, ...
        seconds: wall time from the execution's creation to its last update.
        outputs: output key -> list of (artifact uri, custom properties).
    """

    node_id: str
    state: str
    seconds: float
    started_ms: int
    outputs: dict[str, list[tuple[str, dict]]]


def open_store(metadata_path: Path) -> metadata_store.MetadataStore:
    """Opens the run's SQLite ML Metadata store read-write (MLMD has no read-only SQLite mode)."""
    return metadata_store.MetadataStore(tfx_metadata.sqlite_metadata_connection_config(str(metadata_path)))


def read_only_store(metadata_path: Path) -> metadata_store.MetadataStore:
    """Opens the run's SQLite ML Metadata store read-only, so reading it can never change it."""
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(metadata_path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def _custom_properties(artifact) -> dict:
    props = {}
    for key, value in artifact.custom_properties.items():
        kind = value.WhichOneof("value")
        props[key] = getattr(value, kind) if kind in ("string_value", "int_value", "double_value") else None
    return props


def component_runs(metadata_path: Path, since_ms: int = 0) -> list[ComponentRun]:
    """Returns the component executions created at or after `since_ms`, in start order."""
    store = open_store(metadata_path)
    type_names = {t.id: t.name for t in store.get_execution_types()}
    runs = []
    for context in store.get_contexts_by_type("node"):
        node_id = context.name.split(".", 1)[-1]
        for execution in store.get_executions_by_context(context.id):
            if execution.create_time_since_epoch < since_ms:
                continue
            outputs: dict[str, list[tuple[str, dict]]] = {}
            events = [
                e
                for e in store.get_events_by_execution_ids([execution.id])
                if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
            ]
            artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
            for event in events:
                key = event.path.steps[0].key if event.path.steps else "output"
                artifact = artifacts[event.artifact_id]
                outputs.setdefault(key, []).append((artifact.uri, _custom_properties(artifact)))
            seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
            state = STATES.get(execution.last_known_state, "unknown")
            # A resolver looks artifacts up afresh on every run: it is never cached, nor real work.
            if type_names.get(execution.type_id, "").endswith(".Resolver") and state == "executed":
                state = "resolved"
            runs.append(
                ComponentRun(
                    node_id=node_id,
                    state=state,
                    seconds=seconds,
                    started_ms=execution.create_time_since_epoch,
                    outputs=outputs,
                )
            )
    return sorted(runs, key=lambda r: r.started_ms)


def json_property(run: ComponentRun, output: str, name: str):
    """Returns a JSON custom property of a component's first output artifact, or None."""
    for _, props in run.outputs.get(output, []):
        if props.get(name):
            return json.loads(props[name])
    return None
