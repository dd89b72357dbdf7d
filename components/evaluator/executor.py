"""TFX's Evaluator executor, for a baseline channel whose artifact may hold no model.

TFX's Evaluator applies the change thresholds only when its `baseline_model` input holds an artifact;
an artifact that points to no model would make TFMA fail to load it. ServingBaseline always outputs
one artifact (a step cannot output none), marked `found` = 0 when nothing is served yet: this executor
then passes no baseline, exactly as TFX does for an empty baseline channel (only the floor applies).
"""

from __future__ import annotations

from typing import Any

from tfx.components.evaluator import executor as tfx_evaluator
from tfx.types import standard_component_specs
from tfx.types.artifact import Artifact

from fashion_tfx.components.serving_baseline.component import has_model


class Executor(tfx_evaluator.Executor):
    """Drops a baseline artifact that holds no model, then evaluates as TFX's Evaluator does."""

    def Do(
        self,
        input_dict: dict[str, list[Artifact]],
        output_dict: dict[str, list[Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        key = standard_component_specs.BASELINE_MODEL_KEY
        baselines = [b for b in input_dict.get(key, []) if has_model(b)]
        inputs = {k: v for k, v in input_dict.items() if k != key}
        if baselines:
            inputs[key] = baselines
        super().Do(inputs, output_dict, exec_properties)
