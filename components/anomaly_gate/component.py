"""AnomalyGate, a Python-function component between ExampleValidator and the rest of the pipeline.

It gates on schema anomalies (data that does not match the curated data/schema.pbtxt), as
ExampleValidator reports them; it compares no statistics across runs (no drift comparator).
"""

# No `from __future__ import annotations` here: the @component decorator reads real annotations.

import json

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact, standard_artifacts

from components.anomaly_gate.gate import check_anomalies

ANOMALIES_PROPERTY = "anomalies"  # JSON: split -> anomaly lines (empty when the data is clean)


class AnomalyVerdict(artifact.Artifact):
    """The gate's verdict; its `anomalies` property lists what ExampleValidator found."""

    TYPE_NAME = "fashion_tfx_artifacts.AnomalyVerdict"  # importable: see fashion_tfx_artifacts.py


@component
def AnomalyGate(  # noqa: N802  (TFX names components like classes)
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    verdict: OutputArtifact[AnomalyVerdict],
    stop_on_anomalies: Parameter[bool] = True,
) -> None:
    """Fails (so nothing downstream runs) when anomalies were found and `stop_on_anomalies` is set."""
    found = check_anomalies(anomalies.uri, stop_on_anomalies)
    verdict.set_string_custom_property(ANOMALIES_PROPERTY, json.dumps(found))
