"""The in-process backend: load the exported SavedModel and call its signatures directly."""

from __future__ import annotations

import posixpath
from pathlib import Path

import numpy as np
import tensorflow as tf

from data.examples import serialize_examples
from pipeline.config import is_uri
from serving import payloads
from serving.signatures import (
    DEFAULT_MODEL_NAME,
    INPUT_NAMES,
    PREDICTION_SIGNATURES,
    SERVING_DEFAULT,
    Predictions,
    ServingError,
    signature_named,
)
from serving.versions import SAVED_MODEL_FILE, version_folders


def resolve_model_dir(
    model_dir: str | Path | None = None,
    serving_root: str | Path | None = None,
    model_name: str = DEFAULT_MODEL_NAME,
    version: int | None = None,
) -> str | Path:
    """Finds the SavedModel to load (a local Path, or a bucket URI as a string).

    Args:
        model_dir: a SavedModel folder, or a model base folder holding numeric versions.
        serving_root: TF Serving's root, holding `<model_name>/<version>/` (used when no model_dir).
        model_name: the model's folder under serving_root.
        version: a specific version; default the highest, as TF Serving serves by default.

    Raises:
        ServingError: nothing loadable is there.
    """
    from tfx.dsl.io import fileio

    from pipeline.s3 import register_s3_filesystem_for
    from serving.push import safe_model_path, validate_model_name

    register_s3_filesystem_for(str(model_dir or ""), str(serving_root or ""))
    base: str | Path
    if model_dir is not None:
        base = str(model_dir) if is_uri(model_dir) else Path(model_dir)
        if version is None and fileio.exists(posixpath.join(str(base), SAVED_MODEL_FILE)):
            return base
    elif serving_root is not None:
        if is_uri(serving_root):  # a bucket has no symlinks to escape through
            base = posixpath.join(str(serving_root).rstrip("/"), validate_model_name(model_name))
        else:
            base = safe_model_path(serving_root, model_name)
    else:
        raise ServingError("give a model folder or a serving root")
    # Which folders are versions, and which is newest: TF Serving's rule, kept in serving/versions.py.
    folders = version_folders(base)
    if version is not None:
        if version not in folders:
            raise ServingError(f"{base}: no version {version} (found: {sorted(folders) or 'none'})")
        chosen = folders[version]
    elif not folders:
        raise ServingError(f"{base}: no SavedModel and no numeric version folder holding one")
    else:
        chosen = folders[max(folders)]
    # A bucket URI stays a string: Path would collapse `s3://b` into `s3:/b`.
    return chosen if is_uri(chosen) else Path(chosen)


_TF_ERROR_PREAMBLE = ("Graph execution error:", "Detected at node", "<stack traces unavailable>")


def error_line(message: str) -> str:
    """The line of a TensorFlow error message that says what was wrong (e.g. the failed assertion).

    Graph errors open with "Graph execution error:" and a stack-trace preamble; the cause follows.
    """
    lines = [line.strip() for line in message.splitlines()]
    for line in lines:
        if line and not line.startswith(_TF_ERROR_PREAMBLE) and not line.startswith("[["):
            return line.split("\t [[")[0].strip()
    return lines[0] if lines else message


class LocalModel:
    """A SavedModel loaded once and called in-process with validated payloads.

    Bad input never reaches TensorFlow unchecked, and an error in one call leaves the loaded model
    usable for the next.
    """

    def __init__(self, path: str | Path, max_batch: int = payloads.MAX_BATCH):
        # A bucket URI stays a string: Path would collapse `gs://b` into `gs:/b`.
        self.path = path if "://" in str(path) else Path(path)
        self.max_batch = max_batch
        try:
            self._loaded = tf.saved_model.load(str(self.path))
        except (OSError, ValueError, tf.errors.OpError) as err:
            raise ServingError(f"{self.path}: cannot load the SavedModel ({err})") from err
        self.signatures = dict(self._loaded.signatures)

    def signature(self, name: str):
        """Returns a concrete signature function by name.

        Raises:
            ServingError: the model has no such signature.
        """
        return signature_named(self.signatures, name, self.path)

    def call(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Calls a signature with raw named inputs, as TF Serving does after decoding a request.

        Raises:
            ServingError: the inputs do not fit the signature or the model fails on them.
        """
        function = self.signature(signature_name)
        _, specs = function.structured_input_signature
        if set(inputs) != set(specs):
            raise ServingError(
                f"signature {signature_name!r} takes input(s) {sorted(specs)}, got {sorted(inputs)}"
            )
        try:
            tensors = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()}
            for key, tensor in tensors.items():
                if not specs[key].shape.is_compatible_with(tensor.shape):
                    raise ServingError(
                        f"input {key!r}: shape {tensor.shape.as_list()} does not fit "
                        f"{specs[key].shape.as_list()}"
                    )
            outputs = function(**tensors)
        except (tf.errors.OpError, TypeError, ValueError) as err:
            message = getattr(err, "message", None) or str(err)
            raise ServingError(f"signature {signature_name!r} failed: {error_line(message)}") from err
        return {k: v.numpy() for k, v in outputs.items()}

    def predict(self, payload: payloads.Payload, signature_name: str) -> Predictions:
        """Runs a prediction signature on a payload.

        Raises:
            PayloadError: the batch breaks the input contract (checked again here).
            ServingError: unknown signature, or the model fails.
        """
        if signature_name not in PREDICTION_SIGNATURES:
            raise ServingError(
                f"{signature_name!r} is not a prediction signature; "
                f"use one of {', '.join(PREDICTION_SIGNATURES)}"
            )
        images = payloads.validate_batch(payload.images, payload.names, max_batch=self.max_batch)
        if signature_name == SERVING_DEFAULT:
            value = np.array(serialize_examples(images, payload.names), dtype=object)
        else:
            value = images
        outputs = self.call(signature_name, {INPUT_NAMES[signature_name]: value})
        return Predictions.from_outputs(outputs, f"{self.path} ({signature_name})")
