"""TFX's filesystem Pusher, made idempotent by content and invisible to clients until checked.

TFX's Pusher names each push by the clock, so re-running an unchanged pipeline (whose Evaluator
re-runs once the previous model became the baseline) would serve the same model twice under two
versions. This executor records the SHA-256 of each version's files in a registry beside the
versions, and marks a model whose content is already there as pushed to that version instead: a
model path that repeats (a lost ML Metadata store restarts execution ids) is never taken for identity.

A new version is copied to a hidden staging folder, with the blessed model's card under
`assets.extra/` (which TF Serving ignores); the smoke check publishes it under its number (see
`versions.py`), so TF Serving and `predict` never see a model nobody checked.
"""

from __future__ import annotations

import posixpath
from typing import Any

from tfx.components.pusher import executor as tfx_pusher
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.types.artifact import Artifact
from tfx.utils import io_utils, proto_utils

from components.pusher import spec, versions
from components.pusher.model_card import check_model_card, ship_model_card
from components.pusher.properties import (
    ALREADY_SERVING_PROPERTY,
    DIGEST_PROPERTY,
    STAGED_DESTINATION_PROPERTY,
)
from serving.signatures import ASSETS_EXTRA


class Executor(tfx_pusher.Executor):
    """Pushes a blessed model into staging unless a version with the same content already exists."""

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
        report_dir = artifact_utils.get_single_uri(input_dict[spec.REPORT])
        check_model_card(report_dir)  # refuse before copying anything
        digest = versions.model_digest(model_path)
        model_push.set_string_custom_property(DIGEST_PROPERTY, digest)
        same = [v for v, entry in versions.read_registry(base).items() if entry.get("digest") == digest]
        if same:
            version = max(same, key=int)
            model_push.set_int_custom_property(ALREADY_SERVING_PROPERTY, 1)
            # A version pushed before cards existed gets one; an existing card stays as it was pushed.
            holder = versions.staging_path(base, version)
            if not fileio.exists(holder):
                holder = posixpath.join(base, version)
            if not fileio.exists(posixpath.join(holder, ASSETS_EXTRA)):
                ship_model_card(report_dir, holder, version)
        else:
            version = versions.next_version(base)
            ship_model_card(report_dir, versions.stage_model(model_path, base, version), version)
            versions.record_push(base, version, digest, model_path)
            # As TFX's Pusher does: the PushedModel artifact holds a copy of what was pushed.
            io_utils.copy_dir(model_path, model_push.uri)
        staged = versions.staging_path(base, version)
        # Still staged when a run stopped before its smoke check: the rerun's check publishes it.
        model_push.set_string_custom_property(STAGED_DESTINATION_PROPERTY, staged)
        self._MarkPushed(model_push, pushed_destination=posixpath.join(base, version), pushed_version=version)
