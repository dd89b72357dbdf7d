"""ImageUpscaler's executor: unpacks the artifacts and calls `beam_upscale.upscale_examples`."""

from __future__ import annotations

import os
from typing import Any

from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types.artifact import Artifact

from components.example_gen.spec import CLASS_COUNTS_PROPERTY
from components.upscaler import spec
from components.upscaler.beam_upscale import upscale_examples


class Executor(base_beam_executor.BaseBeamExecutor):
    """Writes the upscaled splits and the fidelity report, in one Beam pipeline."""

    def Do(
        self,
        input_dict: dict[str, list[Artifact]],
        output_dict: dict[str, list[Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        source = artifact_utils.get_single_instance(input_dict[spec.INPUT_EXAMPLES])
        examples = artifact_utils.get_single_instance(output_dict[spec.EXAMPLES])
        report = artifact_utils.get_single_instance(output_dict[spec.REPORT])
        size = int(exec_properties[spec.IMAGE_SIZE])
        interpolation = str(exec_properties[spec.INTERPOLATION])
        splits = artifact_utils.decode_split_names(source.split_names)
        patterns = {
            split: os.path.join(artifact_utils.get_split_uri([source], split), "*") for split in splits
        }
        upscale_examples(self._make_beam_pipeline, patterns, examples.uri, report.uri, size, interpolation)
        examples.split_names = artifact_utils.encode_split_names(splits)
        examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        examples.set_int_custom_property(spec.IMAGE_SIZE_PROPERTY, size)
        examples.set_string_custom_property(spec.INTERPOLATION_PROPERTY, interpolation)
        if source.has_custom_property(CLASS_COUNTS_PROPERTY):
            counts = source.get_string_custom_property(CLASS_COUNTS_PROPERTY)
            examples.set_string_custom_property(CLASS_COUNTS_PROPERTY, counts)
