"""The import path of this project's custom artifact types, as TFX's Kubeflow V2 entrypoint needs it.

In a KFP pod, TFX's entrypoint rebuilds each artifact's Python class from its schema title, which is the
class's `TYPE_NAME`: TFX's own types are in a table, and any other title is imported as
`<module>.<Class>` (`kubeflow_v2_entrypoint_utils._retrieve_class_path`). The compiler only accepts
titles of one top-level name and one class name (`compiler_utils._SCHEMA_TITLE_RE`), while the classes
live in component modules (`components.anomaly_gate.component`); so this one top-level module answers
those titles, `fashion_tfx_artifacts.<Class>`, by importing the class from where it is defined. The
titles are also the artifact types' names in ML Metadata, so they stay as they were.
"""

from __future__ import annotations

import importlib

# Class name -> the module that defines it.
ARTIFACT_MODULES = {
    "AnomalyVerdict": "components.anomaly_gate.component",
    "ResizeReport": "components.upscaler.spec",
    "EvaluationReport": "components.evaluation_report.spec",
    "SmokeCheckResult": "components.serving_check.component",
}


def __getattr__(name: str):
    if name not in ARTIFACT_MODULES:
        raise AttributeError(f"module {__name__!r} has no artifact type {name!r}")
    module = importlib.import_module(ARTIFACT_MODULES[name])
    # EvaluationReport the artifact class is EvaluationReportArtifact (EvaluationReport is the component).
    return getattr(module, name if name != "EvaluationReport" else "EvaluationReportArtifact")
