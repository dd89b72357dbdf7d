"""TFX's filesystem Pusher, made idempotent.

TFX's Pusher names each push by the clock, so re-running an unchanged pipeline (whose Evaluator
re-runs once the previous model became the baseline) would serve the same model twice under two
versions. This executor records which Trainer model each version holds, in a registry beside the
versions, and marks an already-served model as pushed to its existing version instead.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import tensorflow as tf
from tfx.components.pusher import executor as tfx_pusher
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.types.artifact import Artifact
from tfx.utils import proto_utils

REGISTRY = ".pushed_models.json"  # version -> source model path; TF Serving ignores dot files


def read_registry(base_directory: str) -> dict[str, str]:
    """Returns version -> source model path for the versions that still exist."""
    path = os.path.join(base_directory, REGISTRY)
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as source:
        registry = json.load(source)
    return {v: m for v, m in registry.items() if tf.io.gfile.exists(os.path.join(base_directory, v))}


def record_push(base_directory: str, version: str, model_path: str) -> None:
    """Adds one version to the registry, replacing the file at once (a local or a bucket folder)."""
    registry = {**read_registry(base_directory), version: model_path}
    tf.io.gfile.makedirs(base_directory)
    tmp = os.path.join(base_directory, f"{REGISTRY}.{uuid.uuid4().hex}")
    with tf.io.gfile.GFile(tmp, "w") as out:
        json.dump(registry, out, indent=1, sort_keys=True)
    tf.io.gfile.rename(tmp, os.path.join(base_directory, REGISTRY), overwrite=True)


class Executor(tfx_pusher.Executor):
    """Pushes a blessed model unless that very model is already serving."""

    def Do(
        self,
        input_dict: dict[str, list[Artifact]],
        output_dict: dict[str, list[Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        base = destination.filesystem.base_directory
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        served = [v for v, source in read_registry(base).items() if source == model_path]
        if served:
            version = max(served, key=int)
            self._MarkPushed(
                model_push, pushed_destination=os.path.join(base, version), pushed_version=version
            )
            model_push.set_int_custom_property("already_serving", 1)
            return
        super().Do(input_dict, output_dict, exec_properties)
        version = model_push.get_string_custom_property("pushed_version")
        record_push(base, version, model_path)
