"""Limits and failures: 429 with Retry-After, 413 while streaming, 503/504 upstream."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi.testclient import TestClient

from .servers import EchoUpstream, closed_port_url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_merchants_are_limited_separately(
    make_gateway: Callable[..., TestClient], login: Callable[[], tuple[str, str]]
) -> None:
    gateway = make_gateway(rate_limit_per_minute=3)
    _, token_a = login()
    _, token_b = login()
    codes = [gateway.get("/v1/payments/p", headers=bearer(token_a)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = gateway.get("/v1/payments/p", headers=bearer(token_a))
    assert limited.headers["content-type"] == "application/problem+json"
    assert 1 <= int(limited.headers["retry-after"]) <= 20
    assert gateway.get("/v1/payments/p", headers=bearer(token_b)).status_code == 200


def test_anonymous_routes_are_limited_per_ip(make_gateway: Callable[..., TestClient]) -> None:
    gateway = make_gateway(anonymous_rate_limit_per_minute=2)
    body = {"public_key": "pub_x", "private_key": "prv_x"}
    codes = [gateway.post("/v1/auth/login", json=body).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_behind_api_gateway_the_stated_client_address_is_the_bucket_and_xff_is_ignored(
    make_gateway: Callable[..., TestClient],
) -> None:
    """On AWS API Gateway overwrites x-paylab-client-ip (infra/compute.yaml)."""
    gateway = make_gateway(anonymous_rate_limit_per_minute=2, client_ip_header="x-paylab-client-ip")
    body = {"public_key": "pub_x", "private_key": "prv_x"}

    def login_from(address: str, forged: str) -> int:
        headers = {"x-paylab-client-ip": address, "X-Forwarded-For": forged}
        return gateway.post("/v1/auth/login", json=body, headers=headers).status_code

    # A new forged X-Forwarded-For each time changes nothing; another client has its own budget.
    assert [login_from("203.0.113.1", f"198.51.100.{n}") for n in range(3)] == [401, 401, 429]
    assert login_from("203.0.113.2", "198.51.100.9") == 401


def test_bodies_over_the_limit_get_413(
    make_gateway: Callable[..., TestClient],
    login: Callable[[], tuple[str, str]],
    upstream: EchoUpstream,
) -> None:
    gateway = make_gateway(max_body_bytes=1024)
    _, token = login()
    at_limit = gateway.post("/v1/payments", headers=bearer(token), content=b"x" * 1024)
    assert at_limit.status_code == 201
    declared = gateway.post("/v1/payments", headers=bearer(token), content=b"x" * 1025)
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(8):
            yield b"y" * 200

    before = len(upstream.received)
    streamed = gateway.post("/v1/payments", headers=bearer(token), content=chunks())
    assert streamed.status_code == 413
    assert len(upstream.received) == before


def test_upstream_down_is_503(
    make_gateway: Callable[..., TestClient], login: Callable[[], tuple[str, str]]
) -> None:
    gateway = make_gateway(payment_url=closed_port_url())
    _, token = login()
    response = gateway.get("/v1/payments/p", headers=bearer(token))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"]


def test_upstream_too_slow_is_504(
    make_gateway: Callable[..., TestClient], login: Callable[[], tuple[str, str]]
) -> None:
    gateway = make_gateway(upstream_timeout_seconds=0.3)
    _, token = login()
    response = gateway.get("/v1/payments/slow", headers=bearer(token))
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"


def test_auth_down_without_cached_keys_is_503_not_401(
    make_gateway: Callable[..., TestClient], login: Callable[[], tuple[str, str]]
) -> None:
    _, token = login()
    gateway = make_gateway(auth_url=closed_port_url())
    response = gateway.get("/v1/payments/p", headers=bearer(token))
    assert response.status_code == 503
    login_down = gateway.post("/v1/auth/login", json={"public_key": "p", "private_key": "k"})
    assert login_down.status_code == 503
