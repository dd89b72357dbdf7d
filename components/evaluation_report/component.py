"""EvaluationReport, the component class: the Evaluator's verdict explained, and the model card."""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel_utils

from components.evaluation_report import executor, spec
from components.evaluation_report.spec import SUMMARY_PROPERTY  # noqa: F401  (re-exported)


class EvaluationReport(base_component.BaseComponent):
    """Writes evaluation.json/.md and confusion_matrix.png, and model_card.json/.md for a blessed model.

    Output: `report`, a folder the Pusher ships the model card from.
    """

    SPEC_CLASS = spec.EvaluationReportSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        evaluation: types.BaseChannel,
        blessing: types.BaseChannel,
        model: types.BaseChannel,
        model_run: types.BaseChannel,
        examples: types.BaseChannel,
        data_source: str = "",
        data_fingerprint: str = "",
        baseline_model: types.BaseChannel | None = None,
        code_fingerprint: str | None = None,
    ):
        """Builds the component.

        Args:
            evaluation: the Evaluator's ModelEvaluation.
            blessing: the Evaluator's ModelBlessing (names the candidate and baseline models).
            model: the Trainer's model (its signatures go into the card).
            model_run: the Trainer's ModelRun (hyper-parameters, history, curves, training record).
            examples: the raw Examples (split sizes and class balance).
            data_source: where the data was read from.
            data_fingerprint: a digest of the data's content.
            baseline_model: the Evaluator's baseline (ServingBaseline's copy of the served version).
            code_fingerprint: a digest of the report's code, only for TFX's cache key.
        """
        super().__init__(
            spec=spec.EvaluationReportSpec(
                evaluation=evaluation,
                blessing=blessing,
                model=model,
                model_run=model_run,
                examples=examples,
                data_source=data_source,
                data_fingerprint=data_fingerprint,
                baseline_model=baseline_model,
                **({spec.CODE_FINGERPRINT: code_fingerprint} if code_fingerprint else {}),
                report=channel_utils.as_channel([spec.EvaluationReportArtifact()]),
            )
        )
