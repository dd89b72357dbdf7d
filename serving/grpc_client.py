"""TF Serving's gRPC PredictionService: PredictRequest building, response parsing and a stub client."""

from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from data.examples import serialize_examples
from serving import payloads
from serving.signatures import (
    DEFAULT_MODEL_NAME,
    INPUT_NAMES,
    SERVING_DEFAULT,
    Predictions,
    ServingError,
)

DEFAULT_PORT = 8500
# A full batch of 256 float images is about 0.8 MB; leave room above gRPC's 4 MB default anyway. A larger
# answer is refused by gRPC itself (RESOURCE_EXHAUSTED), so the server cannot make the client buffer more.
MAX_MESSAGE_BYTES = 16 << 20


def build_request(
    inputs: dict[str, tf.Tensor | np.ndarray | list],
    signature_name: str,
    model_name: str = DEFAULT_MODEL_NAME,
    version: int | None = None,
) -> predict_pb2.PredictRequest:
    """Builds a PredictRequest: model spec plus one TensorProto per named input."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def build_predict_request(
    payload: payloads.Payload,
    signature_name: str,
    model_name: str = DEFAULT_MODEL_NAME,
    version: int | None = None,
) -> predict_pb2.PredictRequest:
    """Builds the PredictRequest for a prediction signature from a validated payload.

    `predict_images` gets a DT_FLOAT tensor [N, 28, 28]; `serving_default` a DT_STRING tensor [N]
    of serialized tf.Examples.
    """
    if signature_name == SERVING_DEFAULT:
        serialized = serialize_examples(payload.images, payload.names)
        proto = tf.make_tensor_proto(serialized, dtype=tf.string, shape=[len(serialized)])
    else:
        images = np.asarray(payload.images, dtype=np.float32)
        proto = tf.make_tensor_proto(images, dtype=tf.float32, shape=images.shape)
    request = build_request({}, signature_name, model_name, version)
    request.inputs[INPUT_NAMES[signature_name]].CopyFrom(proto)
    return request


def parse_response(response: predict_pb2.PredictResponse, source: str = "gRPC") -> dict[str, np.ndarray]:
    """Returns output name -> NumPy array from a PredictResponse.

    Raises:
        ServingError: a TensorProto whose shape and contents disagree, or of an unsupported dtype.
    """
    try:
        return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
    except (TypeError, ValueError) as err:
        raise ServingError(f"{source}: malformed tensor in the answer ({err})") from err


class GrpcClient:
    """Calls TF Serving's PredictionService/Predict.

    Args:
        host, port: where TF Serving's gRPC API listens (8500 by default).
        model_name, version: the served model (version None: the latest).
        timeout: seconds for the whole call (a gRPC deadline, not a per-read timeout).
        stub: a PredictionServiceStub or a replacement with a `Predict(request, timeout=)` method
            (for tests); by default one is made over an insecure channel.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = DEFAULT_PORT,
        model_name: str = DEFAULT_MODEL_NAME,
        version: int | None = None,
        timeout: float = 30.0,
        stub=None,
    ):
        self.target = f"{host}:{port}"
        self.model_name = model_name
        self.version = version
        self.timeout = timeout
        if stub is None:
            options = [
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ]
            channel = grpc.insecure_channel(self.target, options=options)
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        self.stub = stub

    def predict(self, payload: payloads.Payload, signature_name: str) -> Predictions:
        """Sends a payload to a prediction signature and parses the answer.

        Raises:
            ServingError: the call fails (unreachable server, bad request, model error).
        """
        request = build_predict_request(payload, signature_name, self.model_name, self.version)
        try:
            response = self.stub.Predict(request, timeout=self.timeout)
        except grpc.RpcError as err:
            code = err.code().name if hasattr(err, "code") and err.code() else "UNKNOWN"
            details = err.details() if hasattr(err, "details") else str(err)
            raise ServingError(f"gRPC {self.target}: {code}: {details}") from err
        source = f"gRPC {self.target}"
        return Predictions.from_outputs(parse_response(response, source), source)
