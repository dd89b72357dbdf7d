"""Reading ExampleValidator's anomalies and deciding whether the run may go on."""

from __future__ import annotations

import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2

ANOMALIES_FILE = "SchemaDiff.pb"  # what ExampleValidator writes in each Split-<name>/ folder


class SchemaAnomalyError(RuntimeError):
    """The data no longer matches the schema; the message lists every anomaly by split and feature."""


def read_anomalies(anomalies_uri: str) -> dict[str, list[str]]:
    """Returns split -> one line per anomalous feature, e.g. "height: Out-of-range values ...".

    Args:
        anomalies_uri: ExampleValidator's `anomalies` artifact folder.
    """
    found: dict[str, list[str]] = {}
    for path in sorted(tf.io.gfile.glob(os.path.join(anomalies_uri, "Split-*", ANOMALIES_FILE))):
        split = os.path.basename(os.path.dirname(path))[len("Split-") :]
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(tf.io.gfile.GFile(path, "rb").read())
        lines = [
            f"{feature}: {info.short_description or info.description}"
            for feature, info in sorted(anomalies.anomaly_info.items())
        ]
        if anomalies.HasField("dataset_anomaly_info"):
            lines.append(f"(dataset): {anomalies.dataset_anomaly_info.short_description}")
        if lines:
            found[split] = lines
    return found


def describe(found: dict[str, list[str]]) -> str:
    """Formats anomalies as one line per split."""
    return "; ".join(f"split {split}: {', '.join(lines)}" for split, lines in found.items())


def check_anomalies(anomalies_uri: str, stop_on_anomalies: bool) -> dict[str, list[str]]:
    """Returns the anomalies found, raising instead when they must stop the run.

    Raises:
        SchemaAnomalyError: anomalies were found and `stop_on_anomalies` is set.
    """
    found = read_anomalies(anomalies_uri)
    if found and stop_on_anomalies:
        raise SchemaAnomalyError(
            f"data does not match the schema, stopping before training: {describe(found)} "
            "(fix the data, update data/schema.pbtxt, or set stop_on_anomalies=False)"
        )
    return found
