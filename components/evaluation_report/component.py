"""EvaluationReport, a Python-function component that turns the Evaluator's output into a report."""

# No `from __future__ import annotations` here: the @component decorator reads real annotations.

import json

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact, standard_artifacts

from fashion_tfx.components.evaluation_report.report import write_report

SUMMARY_PROPERTY = "summary"  # JSON: accuracy, example count, blessed


class EvaluationReportArtifact(artifact.Artifact):
    """A folder with evaluation.json, evaluation.md and confusion_matrix.png."""

    TYPE_NAME = "fashion_tfx_artifacts.EvaluationReport"  # importable: see fashion_tfx_artifacts.py


@component
def EvaluationReport(  # noqa: N802  (TFX names components like classes)
    evaluation: InputArtifact[standard_artifacts.ModelEvaluation],
    blessing: InputArtifact[standard_artifacts.ModelBlessing],
    report: OutputArtifact[EvaluationReportArtifact],
) -> None:
    """Writes the evaluation report and records its headline figures on the artifact."""
    blessed = blessing.get_int_custom_property("blessed") == 1
    content = write_report(evaluation.uri, blessed, report.uri)
    headline = {k: content[k] for k in ("accuracy", "example_count", "blessed", "validation_failures")}
    report.set_string_custom_property(SUMMARY_PROPERTY, json.dumps(headline))
