"""A GCS emulator for the tests: gcp-storage-emulator, in memory, on 127.0.0.1, and the client settings.

Run as a script (`python tests/gcs_emulator.py --port N --bucket B [--bucket B2]`); the fixtures in
tests/kubeflow/conftest.py start it as a subprocess, so the pipeline's own threads never starve it.

One fix to the emulator (gcp-storage-emulator 2026.7.19): a request with an empty body reaches its
upload handlers as `None` instead of `b""`, so uploading an empty object (`PUT /bucket/dir%2F`, how
TensorFlow's GCS plugin makes a folder, or an empty file) fails inside the handler with
`TypeError: object of type 'NoneType' has no len()` and the client waits for an answer that never
comes. Real GCS accepts empty objects; the fix makes the emulator read an empty body as `b""`.

And a second: the emulator builds each object's `mediaLink` from the request's Host header, and
TensorFlow's GCS plugin (google-cloud-cpp) sends `Host: 127.0.0.1` without the port, so objects it
uploads get a download link on port 80, which Beam's gcsio (google-cloud-storage) then follows and
fails (connection refused). The fix adds the emulator's own port to a Host header that has none.

And a third: a ranged download that starts at or past the end of an object (any range of an empty
object, such as a folder marker) gets `206` with `Content-Range: bytes 0--1/0` instead of GCS's
`416 Range Not Satisfiable`; TensorFlow's GCS plugin then corrupted its heap and crashed (SIGSEGV in
`ObjectReadStreambuf`'s destructor, seen with gdb while writing a SavedModel's fingerprint). The fix
answers 416 there, as GCS does.
"""

from __future__ import annotations

import argparse
import json
import os
import socket

BUCKET = "fashion-tfx-ci"  # the tests' writable bucket
READ_ONLY_BUCKET = "fashion-tfx-read-only"  # writes answered 403, as without write access

# How each client library is pointed at the emulator (see docs/kubeflow.md):
# - google-cloud-storage (and so Beam 2.61's gcsio, which is built on it): STORAGE_EMULATOR_HOST;
# - TensorFlow: its built-in gs:// filesystem has no endpoint setting, so TF_USE_MODULAR_FILESYSTEM
#   loads tensorflow-io-gcs-filesystem instead, whose google-cloud-cpp client honours
#   CLOUD_STORAGE_EMULATOR_ENDPOINT. That plugin (0.37.1) crashes (SIGSEGV) when any of the GCS_* cache
#   settings below is unset (it passes getenv's NULL to a string_view), so all are set. Its read path
#   then misbehaved against this emulator in several settings: with its read cache off (its default)
#   TF's table reader got wrong bytes ("block checksum mismatch" reading a checkpoint) and reading a
#   470 kB saved_model.pb crashed (heap corruption in google-cloud-cpp's ObjectReadStreambuf, seen with
#   gdb); with 1 MB blocks it crashed or hung. With its default 64 MB blocks and a 64 MB block cache
#   every read was right. Blocks are dropped when an object's generation changes, and the stat cache is
#   off, so one step always sees what the previous one wrote.
PLUGIN_SETTINGS = {
    "TF_USE_MODULAR_FILESYSTEM": "true",
    "GCS_READ_CACHE_BLOCK_SIZE_MB": "64",
    "GCS_READ_CACHE_MAX_SIZE_MB": "64",
    "GCS_READ_CACHE_MAX_STALENESS": "0",
    "GCS_STAT_CACHE_MAX_AGE": "0",
    "GCS_STAT_CACHE_MAX_ENTRIES": "1",
}


def client_environment(endpoint: str) -> dict[str, str]:
    """Returns the environment variables that point every GCS client of the pipeline at `endpoint`."""
    return {
        **PLUGIN_SETTINGS,
        "STORAGE_EMULATOR_HOST": endpoint,
        "CLOUD_STORAGE_EMULATOR_ENDPOINT": endpoint,
        # google-auth would otherwise look for credentials on a metadata server that is not there.
        "GOOGLE_CLOUD_PROJECT": "fashion-tfx-test",
        "NO_GCE_CHECK": "True",
    }


def free_port() -> int:
    """Returns a TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _patch_empty_bodies() -> None:
    from gcp_storage_emulator import server

    read_data = server._read_data

    def read_data_or_empty(request_handler, query):
        data = read_data(request_handler, query)
        return b"" if data is None else data

    server._read_data = read_data_or_empty


def _patch_host_without_port() -> None:
    from urllib.parse import urlparse

    from gcp_storage_emulator import server

    init = server.Request.__init__

    def init_with_port(self, request_handler, method):
        init(self, request_handler, method)
        if urlparse(self._base_url).port is None:
            self._base_url = f"{self._base_url}:{request_handler.server.server_address[1]}"
            self._full_url = self._base_url + self._path
            self._parsed_url = urlparse(self._full_url)

    server.Request.__init__ = init_with_port


def _patch_unsatisfiable_ranges() -> None:
    import re
    from http import HTTPStatus

    from gcp_storage_emulator import server
    from gcp_storage_emulator.exceptions import NotFound
    from gcp_storage_emulator.handlers import objects

    download = objects.download

    def download_or_416(request, response, storage, *args, **kwargs):
        match = re.fullmatch(r"\s*bytes=(\d+)-\d*", request.get_header("range", "") or "")
        if match:
            try:
                size = len(storage.get_file(request.params["bucket_name"], request.params["object_id"]))
            except NotFound:
                size = None
            if size is not None and int(match.group(1)) >= size:
                response.status = HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE
                response["Content-Range"] = f"bytes */{size}"
                return None
        return download(request, response, storage, *args, **kwargs)

    server.HANDLERS = tuple(
        (pattern, {m: download_or_416 if h is download else h for m, h in methods.items()})
        for pattern, methods in server.HANDLERS
    )


def _refuse_writes_to(bucket: str) -> None:
    """Answers every write to `bucket` as GCS answers a caller without write access (403, JSON error).

    The emulator has no permissions at all; this stands in for a bucket the caller may only read.
    """
    from gcp_storage_emulator import server

    marks = (f"/b/{bucket}/", f"/b/{bucket}?", f"/{bucket}/")

    def refusing(method):
        original = getattr(server.RequestHandler, method)

        def handler(self):
            if any(mark in self.path for mark in marks):
                body = json.dumps(
                    {
                        "error": {
                            "code": 403,
                            "message": f"caller does not have storage.objects.create access to {bucket}",
                        }
                    }
                ).encode()
                self.send_response(403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None
            return original(self)

        setattr(server.RequestHandler, method, handler)

    for method in ("do_POST", "do_PUT", "do_PATCH", "do_DELETE"):
        refusing(method)


def main(argv: list[str] | None = None) -> None:
    """Serves an in-memory emulator with the given buckets until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bucket", action="append", default=[])
    parser.add_argument("--read-only-bucket", action="append", default=[])
    args = parser.parse_args(argv)
    os.environ.pop("STORAGE_EMULATOR_HOST", None)
    _patch_empty_bodies()
    _patch_host_without_port()
    _patch_unsatisfiable_ranges()
    for bucket in args.read_only_bucket:
        _refuse_writes_to(bucket)
    from gcp_storage_emulator.handlers import buckets
    from gcp_storage_emulator.server import create_server

    emulator = create_server("127.0.0.1", args.port, in_memory=True)
    for name in args.bucket + args.read_only_bucket:
        buckets.create_bucket(name, emulator._storage)
    emulator.run()


if __name__ == "__main__":
    main()
