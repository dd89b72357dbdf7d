"""TF Serving's REST predict API: request builders, response parsers and a urllib client.

Formats follow TF Serving's documented RESTful API: the row format `{"instances": [...]}` (one
object of named inputs per instance) answered by `{"predictions": [...]}`, and the columnar format
`{"inputs": {...}}` answered by `{"outputs": {...}}`. Binary strings travel as `{"b64": "..."}`.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from urllib.parse import quote

import numpy as np

from data.examples import serialize_examples
from serving import payloads
from serving.signatures import (
    DEFAULT_MODEL_NAME,
    INPUT_NAMES,
    REST_FORMATS,
    SERVING_DEFAULT,
    Predictions,
    ServingError,
)

INSTANCES, INPUTS = REST_FORMATS  # row format, columnar format
FORMATS = REST_FORMATS
DEFAULT_PORT = 8501
# Budgets of an answer: an answer for a full batch (256 inputs, 10 probabilities each) is about 60 KB.
MAX_RESPONSE_BYTES = 8 << 20
MAX_ERROR_BYTES = 64 << 10  # of an HTTP error's body, quoted in the message
MAX_JSON_DEPTH = 32  # TF Serving's answers nest 4 levels; 100,000 '[' would exhaust Python's stack
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _to_json_value(value) -> object:
    """Converts one (nested) input value into its JSON form: bytes become {"b64": ...}."""
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.ndarray):
        if value.dtype == object or value.dtype.kind == "S":
            return [_to_json_value(v) for v in value]
        return value.tolist()
    if isinstance(value, list | tuple):
        return [_to_json_value(v) for v in value]
    return value


def build_request(
    inputs: Mapping[str, object], signature_name: str | None = None, request_format: str = INSTANCES
) -> dict:
    """Builds a predict request body from batched named inputs.

    Args:
        inputs: input name -> batched value (an array or list whose first axis is the batch).
        signature_name: the signature to call; omitted from the body when None (TF Serving then
            uses `serving_default`).
        request_format: `instances` (row format: one object of named inputs per instance) or
            `inputs` (columnar: each name maps to its whole batch).

    Raises:
        ValueError: an unknown format, or row-format inputs with different batch sizes.
    """
    if request_format not in FORMATS:
        raise ValueError(f"unknown request format {request_format!r}; choose one of {', '.join(FORMATS)}")
    body: dict = {} if signature_name is None else {"signature_name": signature_name}
    columns = {name: _to_json_value(value) for name, value in inputs.items()}
    if request_format == INPUTS:
        body[INPUTS] = columns
        return body
    sizes = {name: len(column) for name, column in columns.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"row format needs inputs with the same batch size, got {sizes}")
    count = next(iter(sizes.values()), 0)
    body[INSTANCES] = [{name: column[i] for name, column in columns.items()} for i in range(count)]
    return body


def build_predict_request(
    payload: payloads.Payload, signature_name: str, request_format: str = INSTANCES
) -> dict:
    """Builds the REST body for a prediction signature from a validated payload.

    `predict_images` gets the grey levels as nested [28][28] lists; `serving_default` gets
    serialized tf.Examples as `{"b64": ...}` strings.
    """
    if signature_name == SERVING_DEFAULT:
        value: object = serialize_examples(payload.images, payload.names)
    else:
        value = payload.images
    return build_request({INPUT_NAMES[signature_name]: value}, signature_name, request_format)


def _from_json_value(value) -> object:
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_from_json_value(v) for v in value]
    return value


def parse_response(body: Mapping, output_name: str | None = None) -> dict[str, object]:
    """Parses a predict response into output name -> batched value.

    Args:
        body: the decoded JSON response: `{"predictions": ...}` (row) or `{"outputs": ...}`
            (columnar), or `{"error": ...}`.
        output_name: the name to give the output when the model has a single one (TF Serving then
            omits the name).

    Raises:
        ServingError: the body holds an error or neither known key.
    """
    if "error" in body:
        raise ServingError(f"TF Serving error: {body['error']}")
    try:
        if "predictions" in body:
            rows = body["predictions"]
            if (
                isinstance(rows, list)
                and rows
                and all(isinstance(r, dict) and set(r) != {"b64"} for r in rows)
            ):
                return {name: [_from_json_value(r[name]) for r in rows] for name in rows[0]}
            return {output_name or "output": _from_json_value(rows)}
        if "outputs" in body:
            outputs = body["outputs"]
            if isinstance(outputs, dict) and set(outputs) != {"b64"}:
                return {name: _from_json_value(value) for name, value in outputs.items()}
            return {output_name or "output": _from_json_value(outputs)}
    except (KeyError, TypeError, ValueError) as err:  # rows with different keys, bad base64
        raise ServingError(f"malformed answer ({type(err).__name__}: {err})") from err
    raise ServingError(f"unexpected response: neither 'predictions' nor 'outputs' in keys {sorted(body)}")


def read_capped(stream, limit: int, source: str) -> bytes:
    """Reads a response body of at most `limit` bytes.

    Raises:
        ServingError: the body is longer than `limit`.
    """
    chunks, size = [], 0
    while chunk := stream.read(min(1 << 16, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise ServingError(f"{source}: answer larger than {limit} bytes")
    return b"".join(chunks)


def json_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in a JSON text (brackets inside strings do not count)."""
    structure = np.frombuffer(_JSON_STRING.sub(b'""', raw), dtype=np.uint8)
    brackets = structure[np.isin(structure, np.frombuffer(b"[]{}", np.uint8))]
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def decode_answer(raw: bytes, source: str) -> dict:
    """Decodes an answer body: a JSON object nested at most `MAX_JSON_DEPTH` deep.

    Raises:
        ServingError: not JSON, too deeply nested, or not an object.
    """
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise ServingError(f"{source}: answer nests JSON deeper than {MAX_JSON_DEPTH} levels")
    try:
        answer = json.loads(raw)
    except (ValueError, RecursionError) as err:  # JSONDecodeError, bad UTF-8, over-long integers
        raise ServingError(f"{source}: answer is not JSON ({err})") from err
    if not isinstance(answer, dict):
        raise ServingError(f"{source}: answer is a JSON {type(answer).__name__}, not an object")
    return answer


def predict_url(host: str, port: int, model_name: str, version: int | None = None) -> str:
    """Returns `http://host:port/v1/models/<name>[/versions/<v>]:predict`."""
    path = f"/v1/models/{quote(model_name, safe='')}"
    if version is not None:
        path += f"/versions/{int(version)}"
    return f"http://{host}:{port}{path}:predict"


Opener = Callable[..., object]


class RestClient:
    """Calls TF Serving's REST predict endpoint with urllib.

    Args:
        host, port: where TF Serving's REST API listens (8501 by default).
        model_name: the served model's name.
        version: a specific version, or None for the latest.
        timeout: seconds to wait for an answer.
        opener: `urllib.request.urlopen` or a replacement with the same signature (for tests).
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = DEFAULT_PORT,
        model_name: str = DEFAULT_MODEL_NAME,
        version: int | None = None,
        timeout: float = 30.0,
        opener: Opener | None = None,
    ):
        self.url = predict_url(host, port, model_name, version)
        self.timeout = timeout
        self._open = opener or urllib.request.urlopen

    def post(self, body: Mapping) -> dict:
        """POSTs a JSON body and returns the decoded JSON answer, treating the server as untrusted.

        The whole exchange (connecting, sending, every byte of the answer) must end within `timeout`
        seconds; the answer may hold at most `MAX_RESPONSE_BYTES` bytes and nest JSON at most
        `MAX_JSON_DEPTH` levels deep, and must be a JSON object.

        Raises:
            ServingError: the server cannot be reached, answers an HTTP error, breaks a budget above,
                or answers something other than a JSON object.
        """
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        outcome: dict[str, object] = {}
        # The exchange runs in a daemon thread so that a server dripping bytes cannot hold the client
        # past the deadline: socket timeouts alone bound each read, not the request.
        worker = threading.Thread(target=self._exchange, args=(request, outcome), daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            raise ServingError(f"{self.url}: no complete answer within {self.timeout:g} s (--timeout)")
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return decode_answer(outcome["raw"], self.url)  # type: ignore[arg-type]

    def _exchange(self, request: urllib.request.Request, outcome: dict[str, object]) -> None:
        try:
            with self._open(request, timeout=self.timeout) as response:
                outcome["raw"] = read_capped(response, MAX_RESPONSE_BYTES, self.url)
        except ServingError as err:
            outcome["error"] = err
        except urllib.error.HTTPError as err:
            detail = err.read(MAX_ERROR_BYTES).decode(errors="replace")
            with contextlib.suppress(ValueError, AttributeError, RecursionError):
                detail = str(json.loads(detail).get("error", detail))
            outcome["error"] = ServingError(f"{self.url}: HTTP {err.code}: {detail}")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            # ValueError: urllib refuses a malformed URL or header; HTTPException: a broken HTTP answer.
            reason = getattr(err, "reason", err)
            outcome["error"] = ServingError(f"{self.url}: cannot reach TF Serving ({reason})")

    def predict(
        self, payload: payloads.Payload, signature_name: str, request_format: str = INSTANCES
    ) -> Predictions:
        """Sends a payload to a prediction signature and parses the answer."""
        body = build_predict_request(payload, signature_name, request_format)
        return Predictions.from_outputs(parse_response(self.post(body)), self.url)
