"""TFX's Evaluator, with the golden-set check, and a baseline that may hold no model.

TFMA's thresholds judge the model on the run's own test split, which comes from the data the run was
given: label-shifted or foreign data yields a model that looks good there. This executor also scores
the candidate on the golden set (canonical test images verified by SHA-256, see
`data.golden`) and turns a BLESSED verdict into NOT_BLESSED when that check fails or
cannot run, so every reader of the blessing (Pusher, baseline step, report) sees the same answer.

TFX's Evaluator applies the change thresholds only when its `baseline_model` input holds an artifact;
an artifact that points to no model would make TFMA fail to load it. ServingBaseline always outputs
one artifact (a step cannot output none), marked `found` = 0 when nothing is served yet: this executor
then passes no baseline, exactly as TFX does for an empty baseline channel (only the floor applies).
"""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow_model_analysis as tfma
from tfx.components.evaluator import constants
from tfx.components.evaluator import executor as tfx_evaluator
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs
from tfx.types.artifact import Artifact
from tfx.utils import path_utils, proto_utils

from components.evaluator.eval_config import accuracy_floor
from components.evaluator.golden_set_check import GOLDEN_SET_PROPERTY, golden_set_check
from components.example_gen import spec as example_gen_spec
from components.serving_baseline.component import has_model


def withdraw_blessing(blessing: Artifact) -> None:
    """Rewrites a blessing as NOT_BLESSED: the marker file and the `blessed` property."""
    blessed_file = os.path.join(blessing.uri, constants.BLESSED_FILE_NAME)
    if fileio.exists(blessed_file):
        fileio.remove(blessed_file)
    with fileio.open(os.path.join(blessing.uri, constants.NOT_BLESSED_FILE_NAME), "w") as marker:
        marker.write("")
    blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY, constants.NOT_BLESSED_VALUE)


class Executor(tfx_evaluator.Executor):
    """Drops an empty baseline, runs TFMA, then the golden-set check; blesses only when both pass."""

    def Do(
        self,
        input_dict: dict[str, list[Artifact]],
        output_dict: dict[str, list[Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        key = standard_component_specs.BASELINE_MODEL_KEY
        baselines = [b for b in input_dict.get(key, []) if has_model(b)]
        input_dict = {k: v for k, v in input_dict.items() if k != key}
        if baselines:
            input_dict[key] = baselines
        super().Do(input_dict, output_dict, exec_properties)
        if not output_dict.get(standard_component_specs.BLESSING_KEY):
            return
        blessing = artifact_utils.get_single_instance(output_dict[standard_component_specs.BLESSING_KEY])
        model = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY])
        examples = artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY])
        eval_config = proto_utils.json_to_proto(
            exec_properties[standard_component_specs.EVAL_CONFIG_KEY], tfma.EvalConfig()
        )
        # The run's own data folder is tried first (it may be a canonical copy elsewhere); the SHA-256
        # check, not the place, is what makes a copy trusted.
        source = examples.get_string_custom_property(example_gen_spec.DATA_DIR_PROPERTY)
        verdict = golden_set_check(
            path_utils.serving_model_path(model.uri), accuracy_floor(eval_config), [source] if source else []
        )
        verdict["training_data"] = examples.get_string_custom_property(example_gen_spec.PROVENANCE_PROPERTY)
        blessing.set_string_custom_property(GOLDEN_SET_PROPERTY, json.dumps(verdict, sort_keys=True))
        if not verdict["passed"]:
            withdraw_blessing(blessing)
