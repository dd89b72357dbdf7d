"""REST request builders and response parsers against TF Serving's documented predict formats."""

from __future__ import annotations

import base64
import io
import json
import urllib.error

import numpy as np
import pytest
import tensorflow as tf

from data.examples import serialize_examples
from serving import payloads, rest
from serving.signatures import ServingError


@pytest.fixture
def payload(good_images) -> payloads.Payload:
    return payloads.make_payload(good_images[:2], ["a.png", "b.png"])


def test_row_format_puts_one_object_of_named_inputs_per_instance(payload, good_images):
    body = rest.build_predict_request(payload, "predict_images", "instances")
    assert set(body) == {"signature_name", "instances"}
    assert body["signature_name"] == "predict_images"
    assert isinstance(body["instances"], list) and len(body["instances"]) == 2
    for instance, image in zip(body["instances"], good_images[:2], strict=True):
        assert list(instance) == ["images"]
        # Natural nested notation: 28 rows of 28 plain JSON numbers.
        assert len(instance["images"]) == 28 and all(len(row) == 28 for row in instance["images"])
        assert all(type(v) is float for row in instance["images"] for v in row)
        assert instance["images"] == image.astype(float).tolist()
    json.dumps(body, allow_nan=False)  # strict JSON


def test_columnar_format_maps_the_input_name_to_the_whole_batch(payload, good_images):
    body = rest.build_predict_request(payload, "predict_images", "inputs")
    assert set(body) == {"signature_name", "inputs"}
    assert list(body["inputs"]) == ["images"]
    assert np.asarray(body["inputs"]["images"]).shape == (2, 28, 28)
    assert body["inputs"]["images"] == good_images[:2].astype(float).tolist()


@pytest.mark.parametrize("request_format", ["instances", "inputs"])
def test_serialized_examples_travel_as_b64_objects(payload, request_format):
    body = rest.build_predict_request(payload, "serving_default", request_format)
    expected = serialize_examples(payload.images, payload.names)
    if request_format == "instances":
        values = [instance["examples"] for instance in body["instances"]]
        assert all(list(instance) == ["examples"] for instance in body["instances"])
    else:
        values = body["inputs"]["examples"]
    assert all(set(v) == {"b64"} for v in values)
    assert [base64.b64decode(v["b64"]) for v in values] == expected
    assert (
        tf.train.Example.FromString(base64.b64decode(values[0]["b64"]))
        .features.feature["id"]
        .bytes_list.value[0]
        == b"a.png"
    )


def test_documented_examples_round_trip():
    # The multi-input example of TF Serving's REST API page, in both formats.
    inputs = {
        "tag": ["foo", "bar"],
        "signal": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]],
        "sensor": [[[1, 2], [3, 4]], [[4, 5], [6, 8]]],
    }
    assert rest.build_request(inputs, None, "instances") == {
        "instances": [
            {"tag": "foo", "signal": [1, 2, 3, 4, 5], "sensor": [[1, 2], [3, 4]]},
            {"tag": "bar", "signal": [3, 4, 1, 2, 5], "sensor": [[4, 5], [6, 8]]},
        ]
    }
    assert rest.build_request(inputs, None, "inputs") == {"inputs": inputs}
    assert rest.build_request({"x": [b"image bytes"]}, "s", "instances") == {
        "signature_name": "s",
        "instances": [{"x": {"b64": "aW1hZ2UgYnl0ZXM="}}],
    }


def test_build_request_refuses_an_unknown_format_and_ragged_rows():
    with pytest.raises(ValueError, match="unknown request format 'rows'"):
        rest.build_request({"x": [1]}, None, "rows")
    with pytest.raises(ValueError, match="same batch size"):
        rest.build_request({"x": [1, 2], "y": [1]}, None, "instances")


def test_predict_url():
    assert rest.predict_url("h", 8501, "fashion-tfx") == "http://h:8501/v1/models/fashion-tfx:predict"
    assert rest.predict_url("h", 1, "m", 3) == "http://h:1/v1/models/m/versions/3:predict"
    assert rest.predict_url("h", 1, "../x") == "http://h:1/v1/models/..%2Fx:predict"


def test_parse_row_response_with_several_named_outputs():
    body = {
        "predictions": [
            {"class_id": 9, "class_name": "Ankle boot", "probabilities": [0.0] * 9 + [1.0]},
            {"class_id": 1, "class_name": "Trouser", "probabilities": [0.2, 0.8] + [0.0] * 8},
        ]
    }
    outputs = rest.parse_response(body)
    assert outputs["class_id"] == [9, 1]
    assert outputs["class_name"] == ["Ankle boot", "Trouser"]
    assert outputs["probabilities"][1][:2] == [0.2, 0.8]


def test_parse_columnar_response_and_b64_outputs():
    body = {"outputs": {"class_id": [3], "raw_bytes": [{"b64": base64.b64encode(b"\x00\x01").decode()}]}}
    assert rest.parse_response(body) == {"class_id": [3], "raw_bytes": [b"\x00\x01"]}


def test_parse_single_unnamed_output():
    assert rest.parse_response({"predictions": [3.5, 4.0]}, "y") == {"y": [3.5, 4.0]}
    assert rest.parse_response({"outputs": [[1.0, 2.0]]}, "embedding") == {"embedding": [[1.0, 2.0]]}


def test_parse_error_and_unknown_bodies():
    with pytest.raises(ServingError, match="TF Serving error: Servable not found"):
        rest.parse_response({"error": "Servable not found for request: Latest(half)"})
    with pytest.raises(ServingError, match="neither 'predictions' nor 'outputs'"):
        rest.parse_response({"results": [1]})


def _http_error(code: int, text: bytes):
    def opener(request, timeout=None):
        raise urllib.error.HTTPError(request.full_url, code, "error", {}, io.BytesIO(text))

    return opener


def test_client_reports_http_errors_with_the_servers_message(payload):
    client = rest.RestClient("h", 1, opener=_http_error(400, b'{"error": "Expected shape [?,28,28]"}'))
    with pytest.raises(ServingError, match=r"HTTP 400: Expected shape \[\?,28,28\]"):
        client.predict(payload, "predict_images")
    client = rest.RestClient("h", 1, opener=_http_error(502, b"<html>bad gateway</html>"))
    with pytest.raises(ServingError, match="HTTP 502: <html>bad gateway</html>"):
        client.predict(payload, "predict_images")


def test_client_reports_an_unreachable_server(payload):
    def refuse(request, timeout=None):
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    client = rest.RestClient("nowhere", 9, opener=refuse)
    with pytest.raises(
        ServingError, match="http://nowhere:9/v1/models/fashion-tfx:predict: cannot reach TF Serving"
    ):
        client.predict(payload, "predict_images")


def test_client_posts_json_to_the_predict_url(payload):
    seen = {}

    def opener(request, timeout=None):
        seen.update(url=request.full_url, method=request.get_method(), timeout=timeout)
        seen["headers"] = dict(request.header_items())
        seen["body"] = json.loads(request.data)
        answer = {
            "outputs": {
                "probabilities": [[0.1] * 10] * 2,
                "class_id": [0, 0],
                "class_name": ["T-shirt/top"] * 2,
            }
        }
        return io.BytesIO(json.dumps(answer).encode())

    client = rest.RestClient("tfs", 8501, "fashion-tfx", version=4, timeout=5, opener=opener)
    predictions = client.predict(payload, "predict_images", "inputs")
    assert seen["url"] == "http://tfs:8501/v1/models/fashion-tfx/versions/4:predict"
    assert seen["method"] == "POST"
    assert seen["timeout"] == 5
    assert seen["headers"]["Content-type"] == "application/json"
    assert seen["body"] == rest.build_predict_request(payload, "predict_images", "inputs")
    assert predictions.class_name == ("T-shirt/top", "T-shirt/top")
    assert predictions.probabilities.shape == (2, 10)
