"""A loopback-only HTTP endpoint answering OSV's `/v1/query` from an `AdvisoryIndex`, for pip-audit."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from security.advisories import ECOSYSTEM, AdvisoryIndex

QUERY_PATH = "/v1/query"


def _handler(index: AdvisoryIndex) -> type[BaseHTTPRequestHandler]:
    class OsvQueryHandler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            if self.path != QUERY_PATH:
                return self._reply(404, {"message": f"only {QUERY_PATH} is served"})
            try:
                query = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                package, version = query["package"], query["version"]
                if package.get("ecosystem") != ECOSYSTEM:
                    raise ValueError(f"ecosystem {package.get('ecosystem')!r} is not served")
                vulns = index.query(package["name"], version)
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                return self._reply(400, {"message": f"bad query: {error}"})
            # OSV answers `{}` when nothing is known, and pip-audit reads that as "no vulnerabilities".
            return self._reply(200, {"vulns": vulns} if vulns else {})

        def _reply(self, status: int, body: dict):
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
            pass  # One line per package on stderr would bury the audit's own report.

    return OsvQueryHandler


class OsvMirror:
    """Serves `index` on 127.0.0.1 at an ephemeral port while used as a context manager."""

    def __init__(self, index: AdvisoryIndex):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(index))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{QUERY_PATH}"

    def __enter__(self) -> OsvMirror:
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
