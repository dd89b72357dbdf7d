"""ServingSmokeCheck, a Python-function component run after the Pusher.

TFX's InfraValidator needs Docker or Kubernetes; this check plays its part locally: the pushed model
must load in a fresh process and answer every signature, or the run fails. Only then is it published
under its version number, where TF Serving and `predict` can see it.
"""

# No `from __future__ import annotations` here: the @component decorator reads real annotations.

import json
import os
import subprocess
import sys

import tensorflow as tf
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact, artifact_utils, standard_artifacts

RESULT_PROPERTY = "result"  # JSON written on the output artifact
RESULT_FILE = "smoke_check.json"
TIMEOUT_SECONDS = 600


class SmokeCheckResult(artifact.Artifact):
    """A folder with smoke_check.json: what was checked and what answered."""

    TYPE_NAME = "fashion_tfx_artifacts.SmokeCheckResult"  # importable: see fashion_tfx_artifacts.py


@component
def ServingSmokeCheck(  # noqa: N802  (TFX names components like classes)
    pushed_model: InputArtifact[standard_artifacts.PushedModel],
    examples: InputArtifact[standard_artifacts.Examples],
    result: OutputArtifact[SmokeCheckResult],
    canary_split: Parameter[str] = "test",
    canary_count: Parameter[int] = 8,
    serving_base_path: Parameter[str] = "",
) -> None:
    """Checks the pushed model in a fresh process; a model that was not pushed is not checked."""
    from components.pusher.properties import (
        PUSHED_DESTINATION_PROPERTY,
        PUSHED_PROPERTY,
        STAGED_DESTINATION_PROPERTY,
    )
    from components.pusher.versions import check_staged, publish
    from serving.push import write_models_config

    if pushed_model.get_int_custom_property(PUSHED_PROPERTY) != 1:
        outcome = {"checked": False, "reason": "the model was not blessed, so nothing was pushed"}
    else:
        destination = pushed_model.get_string_custom_property(PUSHED_DESTINATION_PROPERTY)
        # A new version waits in a hidden staging folder until this check passes (see pusher/versions.py);
        # a version published earlier (the same content pushed again) is checked where it is.
        staged = pushed_model.get_string_custom_property(STAGED_DESTINATION_PROPERTY)
        model_dir = staged if staged and tf.io.gfile.exists(staged) else destination
        if not tf.io.gfile.exists(model_dir):
            raise RuntimeError(
                f"serving smoke check: the pushed model {destination} is missing (not staged, not "
                "published); rerun with --no-cache to push it again"
            )
        if model_dir != destination:
            # Before loading anything: the staged folder must still hold the model that was pushed.
            check_staged(staged, destination)
        files = tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], canary_split), "*"))
        command = [
            sys.executable, "-m", "components.serving_check.canary",
            "--model-dir", model_dir, "--examples", *files, "--count", str(canary_count),
        ]  # fmt: skip
        process = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        lines = process.stdout.strip().splitlines()
        answer = json.loads(lines[-1]) if lines else {"ok": False, "error": process.stderr.strip()[-2000:]}
        if process.returncode != 0 or not answer.get("ok"):
            raise RuntimeError(f"serving smoke check failed for {model_dir}: {answer.get('error')}")
        if model_dir != destination:
            publish(staged, destination)
        model_base = os.path.dirname(destination.rstrip("/"))
        config_path = write_models_config(
            os.path.dirname(model_base), os.path.basename(model_base), serving_base_path or None
        )
        outcome = {"checked": True, "models_config": str(config_path), **answer, "model_dir": destination}
    tf.io.gfile.makedirs(result.uri)
    with tf.io.gfile.GFile(os.path.join(result.uri, RESULT_FILE), "w") as out:
        json.dump(outcome, out, indent=2)
    result.set_string_custom_property(RESULT_PROPERTY, json.dumps(outcome))
