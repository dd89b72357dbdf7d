"""The REST and gRPC payloads, decoded as TF Serving decodes them, give the in-process predictions."""

from __future__ import annotations

import numpy as np
import pytest

from serving import grpc_client, payloads, rest
from serving.signatures import ServingError


@pytest.fixture
def payload(good_images) -> payloads.Payload:
    return payloads.make_payload(good_images, ["a.png", "b.png", "c.png"])


def _assert_same(got, want):
    np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(got.class_id, want.class_id)
    assert got.class_name == want.class_name


@pytest.mark.parametrize("request_format", ["instances", "inputs"])
@pytest.mark.parametrize("signature", ["predict_images", "serving_default"])
def test_rest_gives_the_in_process_predictions(
    local_model, rest_serving, payload, expected, good_images, signature, request_format
):
    client = rest.RestClient("tfs", 8501, opener=rest_serving.urlopen)
    got = client.predict(payload, signature, request_format)
    _assert_same(got, local_model.predict(payload, signature))
    np.testing.assert_allclose(got.probabilities, expected(good_images), rtol=1e-4, atol=1e-6)
    url, body = rest_serving.requests[-1]
    assert url == "http://tfs:8501/v1/models/fashion-tfx:predict"
    assert body == rest.build_predict_request(payload, signature, request_format)


@pytest.mark.parametrize("signature", ["predict_images", "serving_default"])
def test_grpc_gives_the_in_process_predictions(local_model, grpc_serving, payload, signature):
    client = grpc_client.GrpcClient("tfs", 8500, stub=grpc_serving)
    _assert_same(client.predict(payload, signature), local_model.predict(payload, signature))
    assert grpc_serving.requests[-1].model_spec.signature_name == signature


def test_rest_and_grpc_agree_with_each_other(rest_serving, grpc_serving, payload):
    by_rest = rest.RestClient(opener=rest_serving.urlopen).predict(payload, "serving_default", "inputs")
    by_grpc = grpc_client.GrpcClient(stub=grpc_serving).predict(payload, "predict_images")
    _assert_same(by_rest, by_grpc)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"signature_name": "predict_images", "instances": [{"images": [[0.0] * 27] * 28}]}, "does not fit"),
        (
            {"signature_name": "predict_images", "inputs": {"images": [[["x"] * 28] * 28]}},
            "cannot convert to float32",
        ),
        (
            {
                "signature_name": "serving_default",
                "instances": [{"examples": {"b64": "bm90IGFuIGV4YW1wbGU="}}],
            },
            "failed",
        ),
        ({"signature_name": "predict_images", "instances": []}, "non-empty list"),
        ({"signature_name": "predict_images", "instances": [], "inputs": {}}, "exactly one of"),
        ({"signature_name": "nope", "inputs": {"images": []}}, "no signature 'nope'"),
    ],
)
def test_rest_server_errors_are_reported_and_the_server_stays_healthy(rest_serving, payload, body, message):
    client = rest.RestClient(opener=rest_serving.urlopen)
    with pytest.raises(ServingError, match=f"HTTP 400: .*{message}"):
        client.post(body)
    assert client.predict(payload, "predict_images").probabilities.shape == (3, 10)


def test_wrong_model_name_is_a_404(rest_serving, grpc_serving, payload):
    with pytest.raises(ServingError, match="HTTP 404: Servable not found"):
        rest.RestClient(model_name="other", opener=rest_serving.urlopen).predict(payload, "predict_images")
    with pytest.raises(ServingError, match="NOT_FOUND: Servable not found: other"):
        grpc_client.GrpcClient(model_name="other", stub=grpc_serving).predict(payload, "predict_images")


def test_grpc_server_error_is_reported_and_the_server_stays_healthy(grpc_serving, payload):
    request = grpc_client.build_request({"images": np.zeros((1, 28, 27), np.float32)}, "predict_images")
    with pytest.raises(Exception, match="does not fit") as caught:
        grpc_serving.Predict(request)
    assert caught.value.code().name == "INVALID_ARGUMENT"
    assert grpc_client.GrpcClient(stub=grpc_serving).predict(payload, "predict_images").class_id.shape == (3,)
