"""IdxExampleGen's executor: unpacks the artifact and calls `data.ingest`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types.artifact import Artifact

from components.example_gen import spec
from data import fashion_mnist as fm
from data.ingest import ingest_idx
from data.splits import SPLITS


class Executor(base_executor.BaseExecutor):
    """Writes the three splits into the output Examples artifact."""

    def Do(
        self,
        input_dict: dict[str, list[Artifact]],
        output_dict: dict[str, list[Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        examples = artifact_utils.get_single_instance(output_dict[spec.EXAMPLES])
        data_dir = Path(exec_properties[spec.DATA_DIR])
        # Checked here too, not only by the CLI: a compiled (Kubeflow) pipeline reads whatever its
        # volume holds. A partly matching set is damaged and refused whatever the flag says.
        # One read: the bytes whose SHA-256 is checked are the bytes parsed, so a file swapped between
        # the check and the parse cannot be ingested as canonical.
        contents = fm.read_contents(data_dir)
        canonical, fingerprint = fm.verify_contents(data_dir, contents, require_canonical=False)
        if not canonical and not exec_properties.get(spec.ALLOW_FOREIGN_DATA):
            raise fm.refuse_foreign(data_dir, "the pipeline's data_dir; allow_foreign_data is off")
        # The fingerprint is this execution's cache key: content that changed since it was taken would
        # be cached under the key of other data, and every rerun would reuse it.
        expected = exec_properties.get(spec.DATA_FINGERPRINT)
        if expected and expected != fingerprint:
            raise fm.DatasetError(
                f"{data_dir} changed after the run checked it (fingerprint {fingerprint}, checked "
                f"{expected}); nothing was ingested; run again to check and ingest the files as they are now"
            )
        counts = ingest_idx(
            data_dir,
            examples.uri,
            eval_fraction=float(exec_properties[spec.EVAL_FRACTION]),
            seed=int(exec_properties[spec.SEED]),
            caps=json.loads(exec_properties[spec.SPLIT_CAPS] or "{}"),
            contents=contents,
        )
        examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
        # Said explicitly: StatisticsGen and the Evaluator otherwise warn that they assume it.
        examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        examples.set_string_custom_property(spec.CLASS_COUNTS_PROPERTY, json.dumps(counts, sort_keys=True))
        examples.set_string_custom_property(spec.PROVENANCE_PROPERTY, "canonical" if canonical else "foreign")
        examples.set_string_custom_property(
            spec.DESCRIPTION_PROPERTY, fm.describe_provenance(data_dir, canonical, fingerprint)
        )
        examples.set_string_custom_property(spec.DATA_DIR_PROPERTY, str(data_dir))
        examples.set_string_custom_property(spec.FINGERPRINT_PROPERTY, fingerprint)
