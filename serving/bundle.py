"""A SavedModel loaded the way TF Serving loads it: a graph-mode session, the restore op, the init op.

TF Serving does not use TF2's object-based loading (`tf.saved_model.load`). Its `SavedModelBundle` imports
the MetaGraph tagged `serve`, runs the saver's restore op on `variables/`, runs the init op, replays the
version's warm-up requests, and then answers each request with one `Session::Run` of the signature's
input and output tensors. A model that `tf.saved_model.load` runs can still fail there: a Keras 3 model
saved through a `tf.Module` attribute answers every request with "Could not find variable"
(keras-team/keras#19274). So the smoke check, the warm-up replay test and `bench.serving` load models
through `ServingBundle`: the same loading and the same graph execution (TensorFlow's C++ session), without
the model server's network front end, which cannot be installed here.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from serving.local import error_line
from serving.signatures import ASSETS_EXTRA, MAX_WARMUP_RECORDS, WARMUP_FILE, ServingError, signature_named


class ServingBundle:
    """A SavedModel in its own graph and session, run signature by signature as TF Serving runs it.

    Raises:
        ServingError: the model cannot be loaded that way (a missing `serve` tag, unrestorable variables).
    """

    def __init__(self, model_dir: str):
        self.model_dir = str(model_dir)
        graph = tf.Graph()
        self._session = tf.compat.v1.Session(graph=graph)
        try:
            with graph.as_default():
                meta_graph = tf.compat.v1.saved_model.load(
                    self._session, [tf.saved_model.SERVING], self.model_dir
                )
        except (OSError, RuntimeError, ValueError, tf.errors.OpError) as err:
            self._session.close()
            message = error_line(getattr(err, "message", str(err)))
            raise ServingError(f"{self.model_dir}: TF Serving's loader cannot load it ({message})") from err
        # `__saved_model_init_op` is a signature_def too, but not one a client can call (TF Serving hides it).
        self.signatures = {k: v for k, v in meta_graph.signature_def.items() if not k.startswith("__")}

    def _signature(self, name: str):
        return signature_named(self.signatures, name, self.model_dir)

    def run(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One `Session::Run` of a signature, fed by input name, fetched by output name.

        Raises:
            ServingError: the inputs do not name the signature's inputs, or the graph fails on them.
        """
        definition = self._signature(signature)
        if set(inputs) != set(definition.inputs):
            raise ServingError(f"{signature}: takes inputs {sorted(definition.inputs)}, got {sorted(inputs)}")
        for key, value in inputs.items():
            # TF Serving feeds the request's tensor as it is, and Session::Run refuses another dtype
            # than the signature's; a Python session would silently cast it.
            expected = tf.dtypes.as_dtype(definition.inputs[key].dtype)
            kind = np.asarray(value).dtype
            given = tf.string if kind.kind in "OSU" else tf.dtypes.as_dtype(kind)
            if given != expected:
                raise ServingError(
                    f"{signature}: input {key!r} is {given.name}; the signature takes {expected.name}"
                )
        feed = {definition.inputs[key].name: value for key, value in inputs.items()}
        fetch = {key: tensor.name for key, tensor in definition.outputs.items()}
        try:
            return self._session.run(fetch, feed)
        except tf.errors.OpError as err:
            raise ServingError(f"{signature}: {error_line(err.message)}") from err
        except ValueError as err:  # refused before the graph runs, e.g. a value of another shape
            raise ServingError(f"{signature}: {err}") from err

    def callable(self, signature: str) -> Callable[[np.ndarray], list]:
        """A signature with one input as a prepared session call, for timing (outputs in name order)."""
        definition = self._signature(signature)
        (tensor,) = definition.inputs.values()
        fetches = [definition.outputs[k].name for k in sorted(definition.outputs)]
        return self._session.make_callable(fetches, [tensor.name])

    def replay_warmup(self, atol: float = 1e-5) -> int:
        """Replays the version's warm-up requests, as TF Serving does at load; checks the recorded answers.

        Returns:
            How many requests were replayed.

        Raises:
            ServingError: the file is missing, holds over 1,000 records, or a request fails or answers
                other than recorded.
        """
        from tensorflow_serving.apis import prediction_log_pb2

        path = os.path.join(self.model_dir, ASSETS_EXTRA, WARMUP_FILE)
        if not tf.io.gfile.exists(path):
            raise ServingError(f"{self.model_dir}: no warm-up requests at {ASSETS_EXTRA}/{WARMUP_FILE}")
        count = 0
        for record in tf.compat.v1.io.tf_record_iterator(path):
            count += 1
            if count > MAX_WARMUP_RECORDS:
                raise ServingError(f"{path}: over {MAX_WARMUP_RECORDS} warm-up records (TF Serving's limit)")
            log = prediction_log_pb2.PredictionLog.FromString(record).predict_log
            name = log.request.model_spec.signature_name
            inputs = {key: tf.make_ndarray(proto) for key, proto in log.request.inputs.items()}
            answers = self.run(name, inputs)
            if set(answers) != set(log.response.outputs):
                raise ServingError(
                    f"{path}: record {count} ({name}) answers {sorted(answers)}, recorded "
                    f"{sorted(log.response.outputs)}"
                )
            for key, answer in answers.items():
                expected = tf.make_ndarray(log.response.outputs[key])
                same = (
                    np.allclose(answer, expected, atol=atol)
                    if expected.dtype.kind == "f"
                    else np.array_equal(answer, expected)
                )
                if answer.shape != expected.shape or not same:
                    raise ServingError(f"{path}: record {count} ({name}/{key}) answers other than recorded")
        if count == 0:
            raise ServingError(f"{path}: no warm-up records")
        return count

    def close(self) -> None:
        self._session.close()
