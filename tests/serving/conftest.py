"""Serving fixtures: a real tiny export in TF Serving's layout, and TF Serving stand-ins.

`serving_root` and `real_serving_root` hold the real tiny export of tests/tiny_export.py (the Trainer's
own export code on a small CNN: upscale, pixel scaling, the three signatures), so the clients are
tested against the contract the pipeline ships, not a copy of it. The REST and gRPC stand-ins decode
requests the way TF Serving does (its documented JSON mapping; TensorProtos via `tf.make_ndarray`) and
run them against that SavedModel in-process.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import urllib.error
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from serving import push
from serving.local import LocalModel
from serving.signatures import DEFAULT_MODEL_NAME, INPUT_NAMES, PREDICT_IMAGES, PROBABILITIES, ServingError

VERSION = 7


@pytest.fixture(scope="session")
def serving_root(tmp_path_factory) -> Path:
    """A serving root holding a tiny real export as `fashion-tfx/7/` and a models.config.

    Trained from another seed than `real_serving_root`'s, so the two roots serve different models.
    """
    from tiny_export import export_tiny_model

    model = export_tiny_model(tmp_path_factory.mktemp("tiny_export_seed1"), seed=1)
    root = tmp_path_factory.mktemp("serving")
    shutil.copytree(model, push.safe_model_path(root, DEFAULT_MODEL_NAME) / str(VERSION))
    push.write_models_config(root, DEFAULT_MODEL_NAME)
    return root


@pytest.fixture(scope="session")
def local_model(serving_root: Path) -> LocalModel:
    """The tiny model loaded in-process, shared by the tests (each must leave it healthy)."""
    return LocalModel(serving_root / DEFAULT_MODEL_NAME / str(VERSION))


@pytest.fixture(scope="session")
def expected(serving_root: Path):
    """The tiny model's probabilities for a batch, from its `predict_images` signature called directly."""
    model_dir = serving_root / DEFAULT_MODEL_NAME / str(VERSION)
    signature = tf.saved_model.load(str(model_dir)).signatures[PREDICT_IMAGES]

    def probabilities(images: np.ndarray) -> np.ndarray:
        inputs = {INPUT_NAMES[PREDICT_IMAGES]: tf.constant(np.asarray(images, np.float32))}
        return signature(**inputs)[PROBABILITIES].numpy()

    return probabilities


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


@pytest.fixture(scope="session")
def real_serving_root(tmp_path_factory, tiny_model_dir) -> Path:
    """A serving root holding the tiny real export (see tests/tiny_export.py) as `fashion-tfx/3/`."""
    root = tmp_path_factory.mktemp("real_serving")
    shutil.copytree(tiny_model_dir, push.safe_model_path(root, DEFAULT_MODEL_NAME) / "3")
    return root
