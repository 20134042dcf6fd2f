"""Lambdas' calls to the services: errors become names the SAGA can route."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from paylab.lambdas import _services
from paylab.lambdas._services import Refused, TransientError, call


class _Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next scripted (status, body); records what it saw."""

    script: list[tuple[int, dict[str, Any]]] = []
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        type(self).seen.append(
            {
                "path": self.path,
                "key": self.headers.get("x-paylab-internal-key"),
                "body": json.loads(self.rfile.read(length) or b"{}"),
            }
        )
        status, body = type(self).script.pop(0)
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Scripted]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PAYLAB_WALLET_URL", f"http://127.0.0.1:{server.server_address[1]}")
    credentials = iter(["old-key", "new-key", "newer-key"])
    monkeypatch.setattr(_services, "_internal_credential", lambda refresh=False: next(credentials))
    _Scripted.script, _Scripted.seen = [], []
    yield _Scripted
    server.shutdown()
    server.server_close()


def test_success_returns_the_json_body(service: type[_Scripted]) -> None:
    service.script = [(201, {"hold_id": "h1"})]
    assert call("wallet", "POST", "/internal/holds", {"amount": "1.00"}) == {"hold_id": "h1"}
    assert service.seen[0] == {
        "path": "/internal/holds",
        "key": "old-key",
        "body": {"amount": "1.00"},
    }


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_are_transient(service: type[_Scripted], status: int) -> None:
    service.script = [(status, {"detail": "busy"})]
    with pytest.raises(TransientError, match=f"{status} busy"):
        call("wallet", "POST", "/internal/holds", {})


def test_client_errors_are_refusals_with_the_problem_detail(service: type[_Scripted]) -> None:
    service.script = [(409, {"detail": "insufficient funds"})]
    with pytest.raises(Refused, match="409 insufficient funds"):
        call("wallet", "POST", "/internal/holds", {})


def test_a_refused_credential_is_fetched_again_once(service: type[_Scripted]) -> None:
    service.script = [(401, {"detail": "Invalid key"}), (200, {"ok": True})]
    assert call("wallet", "POST", "/x", {}) == {"ok": True}
    assert [s["key"] for s in service.seen] == ["old-key", "new-key"]


def test_an_unreachable_service_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYLAB_WALLET_URL", "http://127.0.0.1:9")
    monkeypatch.setattr(_services, "_internal_credential", lambda refresh=False: "k")
    with pytest.raises(TransientError, match="refused"):
        call("wallet", "POST", "/internal/holds", {})
