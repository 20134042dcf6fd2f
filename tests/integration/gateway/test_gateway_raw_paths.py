"""Dot segments sent raw (no client normalises them) never reach another upstream path."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from paylab.gateway.app import create
from paylab.gateway.settings import UPSTREAMS, GatewaySettings

from .servers import EchoUpstream, ServerThread


@pytest.fixture
def live_gateway(auth_server: ServerThread, upstream: EchoUpstream) -> Iterator[ServerThread]:
    urls = {f"{name}_url": upstream.url for name in UPSTREAMS}
    urls["auth_url"] = auth_server.url
    server = ServerThread(create(GatewaySettings(**urls))).start()
    yield server
    server.stop()


def raw_get(port: int, target: str, token: str) -> bytes:
    request = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "target",
    [
        "/v1/payments/../../internal/api-keys/x",
        "/v1/payments/%2e%2e/%2e%2e/internal/api-keys/x",
        "/v1/payments/..%2F..%2Finternal/api-keys/x",
        "/v1/payments/.%2e/.%2e/internal/api-keys/x",
        "/v1/payments/..\\..\\internal/api-keys/x",
    ],
)
def test_raw_traversal_is_404_and_nothing_reaches_internal(
    live_gateway: ServerThread,
    upstream: EchoUpstream,
    login: Callable[[], tuple[str, str]],
    target: str,
) -> None:
    _, token = login()
    before = len(upstream.received)
    response = raw_get(live_gateway.port, target, token)
    assert response.startswith(b"HTTP/1.1 404"), response[:200]
    assert all("internal" not in r["path"] for r in upstream.received[before:])


def test_a_raw_ordinary_path_is_forwarded(
    live_gateway: ServerThread, login: Callable[[], tuple[str, str]]
) -> None:
    merchant, token = login()
    response = raw_get(live_gateway.port, "/v1/payments/p-9", token)
    assert response.startswith(b"HTTP/1.1 200")
    assert merchant.encode() in response
