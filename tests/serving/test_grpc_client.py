"""gRPC PredictRequest building (parsed back from bytes) and response parsing."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import predict_pb2

from data.examples import serialize_examples
from serving import grpc_client, payloads
from serving.signatures import ServingError


@pytest.fixture
def payload(good_images) -> payloads.Payload:
    return payloads.make_payload(good_images, ["a", "b", "c"])


def _wire(request: predict_pb2.PredictRequest) -> predict_pb2.PredictRequest:
    return predict_pb2.PredictRequest.FromString(request.SerializeToString())


def test_predict_images_request_is_a_float_tensor(payload, good_images):
    request = _wire(grpc_client.build_predict_request(payload, "predict_images", "fashion-tfx"))
    assert request.model_spec.name == "fashion-tfx"
    assert request.model_spec.signature_name == "predict_images"
    assert not request.model_spec.HasField("version")
    assert list(request.inputs) == ["images"]
    proto = request.inputs["images"]
    assert proto.dtype == types_pb2.DT_FLOAT
    assert [d.size for d in proto.tensor_shape.dim] == [3, 28, 28]
    np.testing.assert_array_equal(tf.make_ndarray(proto), good_images.astype(np.float32))


def test_serving_default_request_is_a_string_tensor_of_examples(payload):
    request = _wire(grpc_client.build_predict_request(payload, "serving_default", "m", version=12))
    assert request.model_spec.version.value == 12
    proto = request.inputs["examples"]
    assert proto.dtype == types_pb2.DT_STRING
    assert [d.size for d in proto.tensor_shape.dim] == [3]
    assert list(tf.make_ndarray(proto)) == serialize_examples(payload.images, payload.names)


def test_parse_response():
    response = predict_pb2.PredictResponse()
    response.outputs["class_id"].CopyFrom(tf.make_tensor_proto(np.array([4, 2], np.int64)))
    response.outputs["class_name"].CopyFrom(tf.make_tensor_proto([b"Coat", b"Pullover"]))
    outputs = grpc_client.parse_response(predict_pb2.PredictResponse.FromString(response.SerializeToString()))
    np.testing.assert_array_equal(outputs["class_id"], [4, 2])
    assert list(outputs["class_name"]) == [b"Coat", b"Pullover"]


class _Refusing:
    def Predict(self, request, timeout=None):  # noqa: N802
        error = grpc.RpcError("unavailable")
        error.code = lambda: grpc.StatusCode.UNAVAILABLE
        error.details = lambda: "failed to connect to all addresses"
        raise error


def test_client_turns_rpc_errors_into_serving_errors(payload):
    client = grpc_client.GrpcClient("tfs", 8500, stub=_Refusing())
    with pytest.raises(ServingError, match="gRPC tfs:8500: UNAVAILABLE: failed to connect to all addresses"):
        client.predict(payload, "predict_images")


def test_default_client_builds_a_stub_without_connecting():
    client = grpc_client.GrpcClient("localhost", 1)
    assert client.target == "localhost:1"
    assert hasattr(client.stub, "Predict")
