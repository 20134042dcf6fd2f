"""Lambdas keep one connection per service alive, and recover when the service closed it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from paylab.lambdas import _services
from paylab.lambdas._services import TransientError, call


class _KeepAlive(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; records the client port of each request; closes when told."""

    protocol_version = "HTTP/1.1"
    ports: ClassVar[list[int]] = []
    close_after: ClassVar[set[int]] = set()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).ports.append(self.client_address[1])
        raw = json.dumps({"n": len(type(self).ports)}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
        # Close without a `Connection: close` header, as a server whose idle timeout fires does.
        self.close_connection = len(type(self).ports) in type(self).close_after

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_KeepAlive]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("PAYLAB_WALLET_URL", f"http://127.0.0.1:{server.server_address[1]}/")
    monkeypatch.setattr(_services, "_internal_credential", lambda refresh=False: "k")
    monkeypatch.setattr(_services, "_connections", {})
    _KeepAlive.ports, _KeepAlive.close_after = [], set()
    yield _KeepAlive
    server.shutdown()
    server.server_close()
    for conn in _services._connections.values():
        conn.close()


def test_calls_share_one_connection(service: type[_KeepAlive]) -> None:
    answers = [call("wallet", "POST", "/internal/holds", {"i": i}) for i in range(3)]
    assert answers == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert len(set(service.ports)) == 1


def test_a_connection_the_service_closed_is_replaced(service: type[_KeepAlive]) -> None:
    service.close_after = {2}
    answers = [call("wallet", "POST", "/internal/holds", {"i": i}) for i in range(4)]
    assert answers == [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]
    first, second = service.ports[:2], service.ports[2:]
    assert len(set(first)) == 1 and len(set(second)) == 1
    assert first[0] != second[0]


def test_a_dead_service_is_transient_and_forgets_the_connection(
    service: type[_KeepAlive], monkeypatch: pytest.MonkeyPatch
) -> None:
    call("wallet", "POST", "/x", {})
    monkeypatch.setenv("PAYLAB_WALLET_URL", "http://127.0.0.1:9")
    with pytest.raises(TransientError, match="refused"):
        call("wallet", "POST", "/x", {})
    assert "http://127.0.0.1:9" not in _services._connections
