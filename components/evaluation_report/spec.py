"""The EvaluationReport component's contract: its input, output and parameter names, and its files."""

from tfx.types import artifact, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

EVALUATION = "evaluation"
BLESSING = "blessing"
MODEL = "model"
MODEL_RUN = "model_run"
EXAMPLES = "examples"
BASELINE_MODEL = "baseline_model"
REPORT = "report"
DATA_SOURCE = "data_source"
DATA_FINGERPRINT = "data_fingerprint"
# A digest of the report's code (pipeline.fingerprint): TFX's cache key then changes with that code.
CODE_FINGERPRINT = "code_fingerprint"

SUMMARY_PROPERTY = "summary"  # JSON on the report artifact: accuracy, example count, blessed, verdict

# The model card, beside evaluation.md, written for a blessed model only; the Pusher ships these files
# (with the pictures the Markdown shows) into the pushed version's assets.extra/.
MODEL_CARD_JSON = "model_card.json"
MODEL_CARD_MARKDOWN = "model_card.md"
# What the toolkit's schema has no field for: hyper-parameters, history, full evaluation, ML Metadata ids.
MODEL_RECORD_JSON = "model_record.json"


class EvaluationReportArtifact(artifact.Artifact):
    """A folder with evaluation.json/.md, confusion_matrix.png and, when blessed, the model card."""

    TYPE_NAME = "fashion_tfx_artifacts.EvaluationReport"  # importable: see fashion_tfx_artifacts.py


class EvaluationReportSpec(ComponentSpec):
    """Inputs, parameters and output of EvaluationReport."""

    PARAMETERS = {
        # Where the data came from and a digest of its content, for the model card.
        DATA_SOURCE: ExecutionParameter(type=str),
        DATA_FINGERPRINT: ExecutionParameter(type=str),
        CODE_FINGERPRINT: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        EVALUATION: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        BLESSING: ChannelParameter(type=standard_artifacts.ModelBlessing),
        MODEL: ChannelParameter(type=standard_artifacts.Model),
        MODEL_RUN: ChannelParameter(type=standard_artifacts.ModelRun),
        EXAMPLES: ChannelParameter(type=standard_artifacts.Examples),
        # What ServingBaseline found served (the Evaluator's baseline): named by its served version.
        BASELINE_MODEL: ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {REPORT: ChannelParameter(type=EvaluationReportArtifact)}
