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
    data_sections,
    model_record,
    read_json,
    read_signatures,
    write_model_card,
)
from components.evaluation_report.report import artifact_reference, write_report
from components.evaluator.golden_set_check import GOLDEN_SET_PROPERTY
from components.example_gen.spec import CLASS_COUNTS_PROPERTY, PROVENANCE_PROPERTY
from components.serving_baseline.component import VERSION_PROPERTY
from data.fashion_mnist import describe_provenance
from models.trainer import CURVES_PNG, HISTORY_JSON, HYPERPARAMETERS_JSON, TRAINING_JSON

HEADLINE_KEYS = ("accuracy", "example_count", "blessed", "validation_failures", "verdict", "golden_set")


def golden_set_verdict(blessing: Artifact) -> dict[str, Any] | None:
    """Returns the Evaluator's golden-set check, without where the golden set was read from."""
    if not blessing.has_custom_property(GOLDEN_SET_PROPERTY):
        return None
    verdict = json.loads(blessing.get_string_custom_property(GOLDEN_SET_PROPERTY))
    verdict.pop("source", None)  # a folder of the build machine: the SHA-256 check is what counts
    return verdict


def baseline_reference(blessing: Artifact, served: list[Artifact], **where: Any) -> dict[str, Any] | None:
    """Returns the reference of the Evaluator's baseline, named by its served version when it has one.

    Args:
        blessing: the Evaluator's blessing (names the baseline's URI and artifact id).
        served: ServingBaseline's output (a copy of the served version).
        **where: `run_id` and `pipeline_root`, as `artifact_reference` takes them.
    """
    uri_key = evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY
    if not blessing.has_custom_property(uri_key):
        return None
    uri = blessing.get_string_custom_property(uri_key)
    artifact_id = blessing.get_int_custom_property(
        evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY
    )
    baseline = artifact_reference(uri, artifact_id, **where)
    copies = [b for b in served if b.uri == uri and b.has_custom_property(VERSION_PROPERTY)]
    if baseline and copies:
        # A copy of the served version, not a Trainer output: name it as clients see it.
        baseline["served_version"] = copies[0].get_int_custom_property(VERSION_PROPERTY)
    return baseline


def data_source(examples: Artifact, data_fingerprint: str) -> str:
    """Which data the model was trained on, as IdxExampleGen judged it by SHA-256 (no folder named)."""
    if not examples.has_custom_property(PROVENANCE_PROPERTY):
        return ""
    canonical = examples.get_string_custom_property(PROVENANCE_PROPERTY) == "canonical"
    return describe_provenance(None, canonical, data_fingerprint)


class Executor(base_executor.BaseExecutor):
    """Writes the evaluation report, and the model card when the model was blessed."""

    def _where(self, output_uri: str) -> dict[str, Any]:
        """The run id (which names models) and the pipeline root (which shortens paths).

        Args:
            output_uri: this execution's report folder, `<pipeline root>/<node>/<output>/<id>`.
        """
        return {
            "run_id": self._context.pipeline_run_id if self._context else None,
            "pipeline_root": "/".join(output_uri.rstrip("/").split("/")[:-3]),
        }

    def Do(
        self,
        input_dict: dict[str, list[Artifact]],
        output_dict: dict[str, list[Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        evaluation = artifact_utils.get_single_instance(input_dict[spec.EVALUATION])
        blessing = artifact_utils.get_single_instance(input_dict[spec.BLESSING])
        model = artifact_utils.get_single_instance(input_dict[spec.MODEL])
        report_artifact = artifact_utils.get_single_instance(output_dict[spec.REPORT])
        where = self._where(report_artifact.uri)
        blessed = blessing.get_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1
        report = write_report(
            evaluation.uri,
            blessed,
            report_artifact.uri,
            candidate=artifact_reference(model.uri, model.id or None, **where),
            baseline=baseline_reference(blessing, input_dict.get(spec.BASELINE_MODEL, []), **where),
            golden_set=golden_set_verdict(blessing),
        )
        if blessed:
            self._write_model_card(report, input_dict, exec_properties, report_artifact.uri)
        headline = {k: report[k] for k in HEADLINE_KEYS}
        report_artifact.set_string_custom_property(spec.SUMMARY_PROPERTY, json.dumps(headline))

    def _write_model_card(
        self,
        report: dict[str, Any],
        input_dict: dict[str, list[Artifact]],
        exec_properties: dict[str, Any],
        out: str,
    ) -> None:
        """Writes the model card and record of a blessed model into the report's folder."""
        inputs = {
            name: artifact_utils.get_single_instance(input_dict[name])
            for name in (spec.MODEL, spec.MODEL_RUN, spec.EXAMPLES, spec.EVALUATION, spec.BLESSING)
        }
        model, model_run, examples = inputs[spec.MODEL], inputs[spec.MODEL_RUN], inputs[spec.EXAMPLES]
        # The card's pictures sit beside it, so the Markdown shows them wherever the folder goes.
        curves = os.path.join(model_run.uri, CURVES_PNG)
        if tf.io.gfile.exists(curves):
            tf.io.gfile.copy(curves, os.path.join(out, CURVES_PNG), overwrite=True)
        counts = None
        if examples.has_custom_property(CLASS_COUNTS_PROPERTY):
            counts = json.loads(examples.get_string_custom_property(CLASS_COUNTS_PROPERTY))
        where = self._where(out)
        info = self._context.pipeline_info if self._context else None
        model_name = (info.id if info else "") or "model"
        artifacts = {name: artifact_reference(a.uri, a.id or None, **where) for name, a in inputs.items()}
        artifacts[spec.BASELINE_MODEL] = report["baseline"]["model"] if report.get("baseline") else None
        record = model_record(
            report,
            signatures=read_signatures(path_utils.serving_model_path(model.uri)),
            hyperparameters=read_json(os.path.join(model_run.uri, HYPERPARAMETERS_JSON)),
            training=read_json(os.path.join(model_run.uri, TRAINING_JSON)),
            history=read_json(os.path.join(model_run.uri, HISTORY_JSON)),
            lineage={
                "pipeline_name": model_name,
                "pipeline_run_id": where["run_id"],
                "report_execution_id": execution_id(self._context),
                "artifacts": artifacts,
            },
        )
        fingerprint = exec_properties.get(spec.DATA_FINGERPRINT, "")
        card = build_model_card(
            report,
            record,
            model_name=model_name,
            data=data_sections(counts, data_source(examples, fingerprint), fingerprint),
            graphics_dir=out,
        )
        write_model_card(card, record, out)
