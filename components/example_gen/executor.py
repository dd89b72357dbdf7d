"""IdxExampleGen's executor: unpacks the artifact and calls `fashion_tfx.data.ingest`."""

from __future__ import annotations

import json
from typing import Any

from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types.artifact import Artifact

from fashion_tfx.components.example_gen import spec
from fashion_tfx.data.ingest import ingest_idx
from fashion_tfx.data.splits import SPLITS


class Executor(base_executor.BaseExecutor):
    """Writes the three splits into the output Examples artifact."""

    def Do(
        self,
        input_dict: dict[str, list[Artifact]],
        output_dict: dict[str, list[Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        examples = artifact_utils.get_single_instance(output_dict[spec.EXAMPLES])
        counts = ingest_idx(
            exec_properties[spec.DATA_DIR],
            examples.uri,
            eval_fraction=float(exec_properties[spec.EVAL_FRACTION]),
            seed=int(exec_properties[spec.SEED]),
            caps=json.loads(exec_properties[spec.SPLIT_CAPS] or "{}"),
        )
        examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
        # Said explicitly: StatisticsGen and the Evaluator otherwise warn that they assume it.
        examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        examples.set_string_custom_property(spec.CLASS_COUNTS_PROPERTY, json.dumps(counts, sort_keys=True))
