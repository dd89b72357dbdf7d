"""Where the served model came from, read from ML Metadata: which data, which code, which run.

python -m pipeline.lineage --root runs/local

It prints its answer only: what the libraries print while it reads the store goes to
`<root>/logs/lineage-<time>.log`, as a run's does (their start-up noise is silenced by the `pipeline`
package itself).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.io import fileio

from components.pusher.properties import (
    PUSHED_DESTINATION_PROPERTY,
    PUSHED_PROPERTY,
    PUSHED_VERSION_PROPERTY,
)
from pipeline import nodes
from pipeline.config import METADATA_FILE
from pipeline.metadata import read_only_store
from pipeline.run_log import LibraryOutputToFile
from pipeline.storage import store_problem

INPUT_EVENTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)


@dataclasses.dataclass
class Step:
    """One execution upstream of the served model."""

    node_id: str
    execution_id: int
    run_id: str
    properties: dict[str, str | int | float]


@dataclasses.dataclass
class Lineage:
    """The served model's provenance.

    Attributes:
        version: the served version number (the model's name for clients), if recorded.
        destination: where the model was pushed (a version folder under the serving root).
        model_uri: the Trainer's Model artifact the push copied.
        data_fingerprint: digest of the IDX files the examples came from.
        data_dir: the folder those files were read from.
        code_fingerprint: digest of the model code the Trainer ran.
        run_id: the pipeline run whose Trainer produced the model.
        steps: every execution upstream of the push, oldest first.
    """

    version: str | None
    destination: str
    model_uri: str
    data_fingerprint: str | None
    data_dir: str | None
    code_fingerprint: str | None
    run_id: str | None
    steps: list[Step]


class LineageError(RuntimeError):
    """No served model is recorded in the store."""


def _value(value: metadata_store_pb2.Value):
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind in ("string_value", "int_value", "double_value") else None


def served_model_lineage(metadata_path: Path) -> Lineage:
    """Walks ML Metadata from the latest pushed model back to the data it was trained on.

    Raises:
        LineageError: the store records no pushed model.
    """
    store = read_only_store(metadata_path)
    node_of: dict[int, str] = {}
    run_of: dict[int, str] = {}
    run_type = store.get_context_type("pipeline_run").id
    for context in store.get_contexts_by_type("node"):
        for execution in store.get_executions_by_context(context.id):
            node_of[execution.id] = context.name.split(".", 1)[-1]
    for context in store.get_contexts():
        if context.type_id == run_type:
            for execution in store.get_executions_by_context(context.id):
                run_of[execution.id] = context.name

    pushed = [
        a
        for a in store.get_artifacts()
        if PUSHED_PROPERTY in a.custom_properties and _value(a.custom_properties[PUSHED_PROPERTY]) == 1
    ]
    if not pushed:
        raise LineageError(f"{metadata_path} records no pushed model: no run has blessed and pushed one yet")
    served = max(pushed, key=lambda a: a.id)

    def producer(artifact_id: int) -> int | None:
        """The execution that first wrote the artifact (later, cached executions only reuse it)."""
        writers = [
            e.execution_id for e in store.get_events_by_artifact_ids([artifact_id]) if e.type in OUTPUT_EVENTS
        ]
        return min(writers) if writers else None

    steps: dict[int, Step] = {}
    frontier = [producer(served.id)]
    while frontier:
        execution_id = frontier.pop()
        if execution_id is None or execution_id in steps:
            continue
        (execution,) = store.get_executions_by_id([execution_id])
        properties = {k: _value(v) for k, v in execution.custom_properties.items()}
        steps[execution_id] = Step(
            node_of.get(execution_id, "?"), execution_id, run_of.get(execution_id, "?"), properties
        )
        inputs = [
            e.artifact_id for e in store.get_events_by_execution_ids([execution_id]) if e.type in INPUT_EVENTS
        ]
        frontier += [producer(artifact_id) for artifact_id in inputs]

    ordered = sorted(steps.values(), key=lambda s: s.execution_id)
    by_node = {s.node_id: s for s in ordered}
    trainer = by_node.get(nodes.TRAINER)
    example_gen = by_node.get(nodes.EXAMPLE_GEN)
    model_uri = ""
    if trainer is not None:
        events = store.get_events_by_execution_ids([trainer.execution_id])
        model_ids = [
            e.artifact_id
            for e in events
            if e.type in OUTPUT_EVENTS and e.path.steps and e.path.steps[0].key == "model"
        ]
        model_uri = store.get_artifacts_by_id(model_ids)[0].uri if model_ids else ""
    code = None
    if trainer is not None and isinstance(trainer.properties.get("custom_config"), str):
        code = json.loads(trainer.properties["custom_config"]).get("code_fingerprint")
    version = served.custom_properties.get(PUSHED_VERSION_PROPERTY)
    return Lineage(
        version=str(_value(version)) if version is not None else None,
        destination=str(_value(served.custom_properties[PUSHED_DESTINATION_PROPERTY]))
        if PUSHED_DESTINATION_PROPERTY in served.custom_properties
        else served.uri,
        model_uri=model_uri,
        data_fingerprint=example_gen.properties.get("data_fingerprint") if example_gen else None,
        data_dir=example_gen.properties.get("data_dir") if example_gen else None,
        code_fingerprint=code,
        run_id=trainer.run_id if trainer else None,
        steps=ordered,
    )


def render(lineage: Lineage) -> str:
    """Formats a lineage as a few lines of text."""
    name = f"served version {lineage.version}" if lineage.version else "served model"
    lines = [
        f"{name}: {lineage.destination}"
        + (
            "" if fileio.exists(lineage.destination) else "  (NO LONGER EXISTS: nothing is served from there)"
        ),
        f"  trained in run {lineage.run_id} as {lineage.model_uri}",
        f"  data: {lineage.data_dir} (fingerprint {lineage.data_fingerprint})",
        f"  code fingerprint: {lineage.code_fingerprint}",
        "  steps: " + " -> ".join(f"{s.node_id}#{s.execution_id}" for s in lineage.steps),
    ]
    return "\n".join(lines)


def library_log_path(root: Path) -> Path:
    """Where the libraries' output goes: `<root>/logs/lineage-<time>.log`, or the temporary folder when
    the root is read-only (a mounted copy of a run): reading a lineage must not need write access."""
    name = f"lineage-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}.log"
    logs = root / "logs"
    try:
        logs.mkdir(parents=True, exist_ok=True)
        if os.access(logs, os.W_OK):
            return logs / name
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / name


def main(argv: list[str] | None = None) -> int:
    """Prints the served model's lineage for a run root."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.lineage", description=__doc__)
    parser.add_argument("--root", default="runs/local", help="the run root (default: runs/local)")
    args = parser.parse_args(argv)
    metadata = Path(args.root) / METADATA_FILE
    problem = store_problem(metadata)
    if not problem and not metadata.is_file():
        problem = f"no ML Metadata store at {metadata}; run `make run` first"
    if problem:  # refused before the library log is opened: a refusal writes nothing
        print(f"lineage: error: {problem}", file=sys.stderr)
        return 2
    answer, error = None, None
    with LibraryOutputToFile(library_log_path(Path(args.root)), sys.stdout):
        try:
            answer = render(served_model_lineage(metadata))
        except LineageError as err:
            error = str(err)
        except RuntimeError as err:  # ML Metadata's own errors (a store damaged in a way SQLite did not see)
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            error = f"cannot read the ML Metadata store {metadata}: {first}"
    if error is not None:
        print(f"lineage: error: {error}", file=sys.stderr)
        return 2
    print(answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
