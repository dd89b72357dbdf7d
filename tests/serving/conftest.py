"""Serving fixtures: a tiny SavedModel with the served signature contract, and TF Serving stand-ins.

`serving_root` saves a small tf.Module implementing the contract (a fixed linear map of the 7x7
mean-pooled image, so tests can compute its answers with NumPy) in TF Serving's layout;
`real_serving_root` holds a real tiny export (tests/tiny_export.py), which newer tests prefer. The REST and
gRPC stand-ins decode requests the way TF Serving does (its documented JSON mapping; TensorProtos
via `tf.make_ndarray`) and run them against that SavedModel in-process.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.error
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from data.classes import CLASS_NAMES
from serving import push
from serving.local import LocalModel
from serving.signatures import DEFAULT_MODEL_NAME, ServingError

VERSION = 7
POOL = 4  # 28x28 -> 7x7 mean pooling
EMBEDDING = (28 // POOL) ** 2


def tiny_weights() -> tuple[np.ndarray, np.ndarray]:
    """The tiny model's fixed weights, so tests can compute its expected output with NumPy."""
    rng = np.random.default_rng(0)
    return rng.normal(size=(EMBEDDING, 10)).astype(np.float32) * 10, rng.normal(size=10).astype(np.float32)


def expected_probabilities(images: np.ndarray) -> np.ndarray:
    """What the tiny model must answer, computed without TensorFlow."""
    weights, bias = tiny_weights()
    pooled = (np.asarray(images, np.float64) / 255).reshape(-1, 7, POOL, 7, POOL).mean(axis=(2, 4))
    logits = pooled.reshape(-1, EMBEDDING) @ weights + bias
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


class TinyFashionModel(tf.Module):
    """Implements the served signature contract with a fixed linear map (no training)."""

    def __init__(self):
        super().__init__()
        weights, bias = tiny_weights()
        self.weights = tf.constant(weights)
        self.bias = tf.constant(bias)
        self.class_names = tf.constant(CLASS_NAMES)

    def _embed(self, images):
        pooled = tf.reduce_mean(tf.reshape(images / 255.0, [-1, 7, POOL, 7, POOL]), axis=[2, 4])
        return tf.reshape(pooled, [-1, EMBEDDING])

    def _classify(self, images):
        probabilities = tf.nn.softmax(self._embed(images) @ self.weights + self.bias)
        class_id = tf.argmax(probabilities, axis=1, output_type=tf.int64)
        return {
            "probabilities": probabilities,
            "class_id": class_id,
            "class_name": tf.gather(self.class_names, class_id),
        }

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28], tf.float32, name="images")])
    def predict_images(self, images):
        return self._classify(images)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serving_default(self, examples):
        parsed = tf.io.parse_example(examples, {"image": tf.io.FixedLenFeature([], tf.string)})
        images = tf.map_fn(
            lambda png: tf.cast(tf.reshape(tf.io.decode_png(png, channels=1), [28, 28]), tf.float32),
            parsed["image"],
            fn_output_signature=tf.TensorSpec([28, 28], tf.float32),
        )
        return self._classify(images)

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28], tf.float32, name="images")])
    def embed(self, images):
        return {"embedding": self._embed(images)}


@pytest.fixture(scope="session")
def serving_root(tmp_path_factory) -> Path:
    """A serving root holding the tiny model as `fashion-tfx/7/` and a models.config."""
    root = tmp_path_factory.mktemp("serving")
    module = TinyFashionModel()
    tf.saved_model.save(
        module,
        str(push.safe_model_path(root, DEFAULT_MODEL_NAME) / str(VERSION)),
        signatures={
            "serving_default": module.serving_default,
            "predict_images": module.predict_images,
            "embed": module.embed,
        },
    )
    push.write_models_config(root, DEFAULT_MODEL_NAME)
    return root


@pytest.fixture(scope="session")
def local_model(serving_root: Path) -> LocalModel:
    """The tiny model loaded in-process, shared by the tests (each must leave it healthy)."""
    return LocalModel(serving_root / DEFAULT_MODEL_NAME / str(VERSION))


@pytest.fixture
def good_images() -> np.ndarray:
    """Three distinct uint8 images [3, 28, 28]."""
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, size=(3, 28, 28)).astype(np.uint8)
    images[1, :, :14] = 0  # make the pooled features differ clearly
    images[2, 14:] = 255
    return images


# --- TF Serving stand-ins -------------------------------------------------------------------------


class RequestRejectedError(ValueError):
    """What TF Serving answers with HTTP 400 / INVALID_ARGUMENT."""


def _is_b64(value) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def _json_to_array(value, spec: tf.TensorSpec, name: str) -> np.ndarray:
    """Converts a JSON value to a tensor of the signature's dtype, per TF Serving's JSON mapping."""
    if spec.dtype == tf.string:

        def to_bytes(item):
            if _is_b64(item):
                return base64.b64decode(item["b64"], validate=True)
            if isinstance(item, str):
                return item.encode()
            if isinstance(item, list):
                return [to_bytes(i) for i in item]
            raise RequestRejectedError(f"input {name}: expected a string or {{'b64': ...}}, got {item!r:.40}")

        array = np.array(to_bytes(value), dtype=object)
    else:
        try:
            array = np.asarray(value, dtype=spec.dtype.as_numpy_dtype)
        except (TypeError, ValueError) as err:
            raise RequestRejectedError(f"input {name}: cannot convert to {spec.dtype.name}: {err}") from err
    if not spec.shape.is_compatible_with(array.shape):
        raise RequestRejectedError(f"input {name}: shape {list(array.shape)} does not fit {spec.shape}")
    return array


def _json_output(name: str, value):
    if isinstance(value, np.ndarray) and value.dtype == object:
        if name.endswith("_bytes"):
            return [{"b64": base64.b64encode(v).decode()} for v in value]
        return [v.decode() for v in value]
    return np.asarray(value).tolist()


class RestServing:
    """Answers POST :predict bodies the way TF Serving's REST API does, using the local model."""

    def __init__(self, model: LocalModel, model_name: str = DEFAULT_MODEL_NAME):
        self.model = model
        self.model_name = model_name
        self.requests: list[tuple[str, dict]] = []

    def handle(self, body: dict) -> dict:
        """Returns the JSON answer; raises RequestRejectedError for what TF Serving answers 400."""
        if not isinstance(body, dict) or ("instances" in body) == ("inputs" in body):
            raise RequestRejectedError("request must hold exactly one of 'instances' or 'inputs'")
        signature = body.get("signature_name", "serving_default")
        try:
            _, specs = self.model.signature(signature).structured_input_signature
        except ServingError as err:
            raise RequestRejectedError(str(err)) from err
        row = "instances" in body
        data = body["instances"] if row else body["inputs"]
        if row:
            if not isinstance(data, list) or not data:
                raise RequestRejectedError("'instances' must be a non-empty list")
            if all(isinstance(i, dict) and not _is_b64(i) for i in data):
                if any(set(i) != set(specs) for i in data):
                    raise RequestRejectedError(f"every instance must name exactly the inputs {sorted(specs)}")
                columns = {name: [i[name] for i in data] for name in specs}
            elif len(specs) == 1:
                columns = {next(iter(specs)): data}
            else:
                raise RequestRejectedError("unnamed instances need a signature with one input")
        elif isinstance(data, dict) and not _is_b64(data):
            if set(data) != set(specs):
                raise RequestRejectedError(f"'inputs' must name exactly {sorted(specs)}")
            columns = data
        elif len(specs) == 1:
            columns = {next(iter(specs)): data}
        else:
            raise RequestRejectedError("an unnamed input needs a signature with one input")
        tensors = {name: _json_to_array(value, specs[name], name) for name, value in columns.items()}
        try:
            outputs = self.model.call(signature, tensors)
        except ServingError as err:
            raise RequestRejectedError(str(err)) from err
        encoded = {name: _json_output(name, value) for name, value in outputs.items()}
        if not row:
            return {"outputs": encoded if len(encoded) > 1 else next(iter(encoded.values()))}
        count = len(next(iter(encoded.values())))
        if len(encoded) == 1:
            return {"predictions": next(iter(encoded.values()))}
        return {"predictions": [{k: v[i] for k, v in encoded.items()} for i in range(count)]}

    def urlopen(self, request, timeout=None):
        """A stand-in for `urllib.request.urlopen` that serves the request from `handle`."""
        body = json.loads(request.data)
        self.requests.append((request.full_url, body))
        expected = f"/v1/models/{self.model_name}"
        if expected not in request.full_url or request.get_method() != "POST":
            status, answer = 404, {"error": f"Servable not found for request: {request.full_url}"}
        else:
            try:
                status, answer = 200, self.handle(body)
            except RequestRejectedError as err:
                status, answer = 400, {"error": str(err)}
        raw = json.dumps(answer).encode()
        if status != 200:
            raise urllib.error.HTTPError(request.full_url, status, "error", {}, io.BytesIO(raw))
        return io.BytesIO(raw)


class FakeRpcError(grpc.RpcError):
    """A gRPC error as a stub raises it: with `code()` and `details()`."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(details)
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


class GrpcServing:
    """A PredictionService stub stand-in: decodes TensorProtos with `tf.make_ndarray` as TF Serving does."""

    def __init__(self, model: LocalModel, model_name: str = DEFAULT_MODEL_NAME):
        self.model = model
        self.model_name = model_name
        self.requests: list[predict_pb2.PredictRequest] = []

    def Predict(self, request, timeout=None):  # noqa: N802 - the gRPC method name
        # Round-trip through bytes, as the wire would.
        request = predict_pb2.PredictRequest.FromString(request.SerializeToString())
        self.requests.append(request)
        if request.model_spec.name != self.model_name:
            raise FakeRpcError(grpc.StatusCode.NOT_FOUND, f"Servable not found: {request.model_spec.name}")
        signature = request.model_spec.signature_name or "serving_default"
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        try:
            outputs = self.model.call(signature, inputs)
        except ServingError as err:
            raise FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, str(err)) from err
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        response.model_spec.version.value = VERSION
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return predict_pb2.PredictResponse.FromString(response.SerializeToString())


@pytest.fixture
def rest_serving(local_model: LocalModel) -> RestServing:
    """TF Serving's REST API stand-in over the tiny model."""
    return RestServing(local_model)


@pytest.fixture
def grpc_serving(local_model: LocalModel) -> GrpcServing:
    """TF Serving's gRPC PredictionService stand-in over the tiny model."""
    return GrpcServing(local_model)


@pytest.fixture
def expected():
    """The tiny model's probabilities for a batch, computed with NumPy."""
    return expected_probabilities


@pytest.fixture(scope="session")
def real_serving_root(tmp_path_factory, tiny_model_dir) -> Path:
    """A serving root holding a real tiny export (see tests/tiny_export.py) as `fashion-tfx/3/`."""
    import shutil

    root = tmp_path_factory.mktemp("real_serving")
    shutil.copytree(tiny_model_dir, push.safe_model_path(root, DEFAULT_MODEL_NAME) / "3")
    return root
