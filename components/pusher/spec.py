"""The ModelPusher component's contract: TFX's Pusher inputs plus the report holding the model card."""

from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.evaluation_report.spec import EvaluationReportArtifact

# The names TFX's Pusher executor reads, so the executor can build on it.
MODEL = standard_component_specs.MODEL_KEY
MODEL_BLESSING = standard_component_specs.MODEL_BLESSING_KEY
PUSH_DESTINATION = standard_component_specs.PUSH_DESTINATION_KEY
PUSHED_MODEL = standard_component_specs.PUSHED_MODEL_KEY
REPORT = "report"


class ModelPusherSpec(ComponentSpec):
    """Inputs, parameter and output of ModelPusher."""

    PARAMETERS = {PUSH_DESTINATION: ExecutionParameter(type=pusher_pb2.PushDestination)}
    INPUTS = {
        MODEL: ChannelParameter(type=standard_artifacts.Model),
        MODEL_BLESSING: ChannelParameter(type=standard_artifacts.ModelBlessing),
        REPORT: ChannelParameter(type=EvaluationReportArtifact),
    }
    OUTPUTS = {PUSHED_MODEL: ChannelParameter(type=standard_artifacts.PushedModel)}
