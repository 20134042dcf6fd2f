"""A webhook attempt is never lost to a merchant server closing an idle kept-alive connection.

The server here answers the first request on each connection and keeps it open, then closes it
when the next request arrives on it, without answering: what any server does when its idle
timeout ends just as a client reuses the connection (uvicorn's is 5 s, the same as httpx's own
keep-alive expiry, so a retry 5 s after the last one hits it).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest
from loopback_server import LoopbackServer

from paylab.merchant.delivery import Claimed, Deliverer, webhook_client
from paylab.merchant.settings import MerchantSettings, UrlPolicy

ANSWER = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"


def _read_request(conn: socket.socket) -> bool:
    """Read one request (headers and a content-length body); False if the client went away."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True


class ClosingServer(LoopbackServer):
    """Answers one request per connection with a kept-alive 503, then drops the connection."""

    def __init__(self) -> None:
        super().__init__(self._answer_once)
        self.answered = 0

    def _answer_once(self, conn: socket.socket) -> None:
        if _read_request(conn):
            self.answered += 1  # before the answer: the client may check as soon as it has it
            conn.sendall(ANSWER)
            _read_request(conn)  # the next request on this connection: closed unanswered


@pytest.fixture
def server() -> Iterator[ClosingServer]:
    with ClosingServer() as s:
        yield s


def _claimed(port: int, attempt: int) -> Claimed:
    url = f"http://127.0.0.1:{port}/confirmation"
    return Claimed(uuid.uuid4(), attempt, url, {"x_ref_payco": "100000001"})


def test_every_attempt_reaches_the_endpoint_on_its_own_connection(
    server: ClosingServer,
) -> None:
    settings = MerchantSettings(webhook_url_policy=UrlPolicy.LOOPBACK, webhook_timeout_s=5.0)
    with webhook_client() as http:
        deliverer = Deliverer(None, settings, http)  # type: ignore[arg-type]  # send needs no db
        results = [deliverer.send(_claimed(server.port, n)) for n in (1, 2, 3)]
    assert [(r.status_code, r.error) for r in results] == [(503, "HTTP 503")] * 3
    assert (server.connections, server.answered) == (3, 3)


def test_a_pooled_client_loses_the_second_attempt_to_the_close(server: ClosingServer) -> None:
    """The race itself, so the test above is known to exercise it."""
    with httpx.Client() as pooled:
        assert pooled.post(f"http://127.0.0.1:{server.port}/", data={"a": "1"}).status_code == 503
        with pytest.raises(httpx.RemoteProtocolError):
            pooled.post(f"http://127.0.0.1:{server.port}/", data={"a": "2"})
    assert (server.connections, server.answered) == (1, 1)
