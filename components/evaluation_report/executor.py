"""EvaluationReport's executor: unpacks the artifacts and calls the report and model-card functions."""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.types.artifact import Artifact
from tfx.utils import path_utils

from compat.tfx import execution_id
from components.evaluation_report import spec
from components.evaluation_report.model_card import (
    build_model_card,
    read_json,
    read_signatures,
    write_model_card,
)
from components.evaluation_report.report import model_reference, write_report
from components.example_gen.spec import CLASS_COUNTS_PROPERTY, DESCRIPTION_PROPERTY
from components.serving_baseline.component import SOURCE_PROPERTY, VERSION_PROPERTY
from models.trainer import CURVES_PNG, HISTORY_JSON, HYPERPARAMETERS_JSON, TRAINING_JSON


def _artifact_reference(artifact: Artifact) -> dict[str, Any]:
    return model_reference(artifact.uri, artifact.id or None)


class Executor(base_executor.BaseExecutor):
    """Writes the evaluation report, and the model card when the model was blessed."""

    def Do(
        self,
        input_dict: dict[str, list[Artifact]],
        output_dict: dict[str, list[Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        evaluation = artifact_utils.get_single_instance(input_dict[spec.EVALUATION])
        blessing = artifact_utils.get_single_instance(input_dict[spec.BLESSING])
        model = artifact_utils.get_single_instance(input_dict[spec.MODEL])
        model_run = artifact_utils.get_single_instance(input_dict[spec.MODEL_RUN])
        examples = artifact_utils.get_single_instance(input_dict[spec.EXAMPLES])
        report_artifact = artifact_utils.get_single_instance(output_dict[spec.REPORT])
        blessed = blessing.get_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1
        baseline = None
        if blessing.has_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY):
            baseline = model_reference(
                blessing.get_string_custom_property(
                    evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY
                ),
                blessing.get_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY),
            )
            served = [b for b in input_dict.get(spec.BASELINE_MODEL, []) if b.uri == baseline["uri"]]
            if served and served[0].has_custom_property(VERSION_PROPERTY):
                # A copy of the served version, not a Trainer output: name it as clients see it.
                baseline["execution_id"] = None
                baseline["served_version"] = served[0].get_int_custom_property(VERSION_PROPERTY)
                baseline["served_from"] = served[0].get_string_custom_property(SOURCE_PROPERTY)
        candidate = _artifact_reference(model)
        out = report_artifact.uri
        report = write_report(evaluation.uri, blessed, out, candidate, baseline)
        if blessed:
            # The card's pictures sit beside it, so the Markdown shows them wherever the folder goes.
            curves = os.path.join(model_run.uri, CURVES_PNG)
            if tf.io.gfile.exists(curves):
                tf.io.gfile.copy(curves, os.path.join(out, CURVES_PNG), overwrite=True)
            counts = None
            if examples.has_custom_property(CLASS_COUNTS_PROPERTY):
                counts = json.loads(examples.get_string_custom_property(CLASS_COUNTS_PROPERTY))
            context = self._context
            card = build_model_card(
                report,
                model_name=(context.pipeline_info.id if context and context.pipeline_info else "") or "model",
                signatures=read_signatures(path_utils.serving_model_path(model.uri)),
                hyperparameters=read_json(os.path.join(model_run.uri, HYPERPARAMETERS_JSON)),
                training=read_json(os.path.join(model_run.uri, TRAINING_JSON)),
                history=read_json(os.path.join(model_run.uri, HISTORY_JSON)),
                split_class_counts=counts,
                # Canonical or FOREIGN, as IdxExampleGen judged it by SHA-256, then the folder.
                data_source=(
                    examples.get_string_custom_property(DESCRIPTION_PROPERTY)
                    if examples.has_custom_property(DESCRIPTION_PROPERTY)
                    else exec_properties.get(spec.DATA_SOURCE, "")
                ),
                data_fingerprint=exec_properties.get(spec.DATA_FINGERPRINT, ""),
                lineage={
                    "pipeline_name": context.pipeline_info.id if context and context.pipeline_info else None,
                    "pipeline_run_id": context.pipeline_run_id if context else None,
                    "report_execution_id": execution_id(context),
                    "artifacts": {
                        "model": candidate,
                        "model_run": _artifact_reference(model_run),
                        "examples": _artifact_reference(examples),
                        "evaluation": _artifact_reference(evaluation),
                        "blessing": _artifact_reference(blessing),
                        "baseline_model": baseline,
                    },
                },
                graphics_dir=out,
            )
            write_model_card(card, out)
        headline = {
            k: report[k] for k in ("accuracy", "example_count", "blessed", "validation_failures", "verdict")
        }
        report_artifact.set_string_custom_property(spec.SUMMARY_PROPERTY, json.dumps(headline))
