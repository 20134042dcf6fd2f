"""A loopback HTTP server that records every POST: stands in for a service SNS pushes to."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .waiting import wait_until


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpSink:
    """Records POSTs to http://127.0.0.1:<port>/...; answers 200 to each."""

    def __init__(self) -> None:
        self.requests: queue.Queue[Request] = queue.Queue()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                sink.requests.put(Request(self.path, headers, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HttpSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def next_request(self, timeout: float = 10.0) -> Request:
        """The next recorded request; fails if none arrives in `timeout` seconds."""
        got: list[Request] = []

        def arrived() -> bool:
            try:
                got.append(self.requests.get(timeout=0.2))
            except queue.Empty:
                return False
            return True

        wait_until(arrived, timeout=timeout, interval=0, description=f"a POST to {self.url}")
        return got[0]
