"""ModelPusher, the component class: TFX's filesystem push, idempotent, shipping the model card."""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import pusher_pb2
from tfx.types import channel_utils, standard_artifacts

from components.pusher import executor, spec


class ModelPusher(base_component.BaseComponent):
    """Pushes a blessed model into TF Serving's layout, with its model card under `assets.extra/`.

    TFX's Pusher takes only the model and the blessing; this one also takes the EvaluationReport,
    whose model card it ships inside the pushed version.
    """

    SPEC_CLASS = spec.ModelPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        model_blessing: types.BaseChannel,
        report: types.BaseChannel,
        base_directory: str,
    ):
        """Builds the component.

        Args:
            model: the Trainer's model.
            model_blessing: the Evaluator's blessing; an unblessed model is not pushed.
            report: the EvaluationReport, holding the model card of a blessed model.
            base_directory: `<serving root>/<model name>`, where numbered versions go.
        """
        destination = pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=base_directory)
        )
        super().__init__(
            spec=spec.ModelPusherSpec(
                model=model,
                model_blessing=model_blessing,
                report=report,
                push_destination=destination,
                pushed_model=channel_utils.as_channel([standard_artifacts.PushedModel()]),
            )
        )
