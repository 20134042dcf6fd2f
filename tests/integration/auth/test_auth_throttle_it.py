"""Brute force: failed logins per public key and per client IP get 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient


def attempt(client: TestClient, key: dict[str, Any], secret: str, **headers: str) -> Any:
    body = {"public_key": key["public_key"], "private_key": secret}
    return client.post("/v1/auth/login", json=body, headers=headers)


def test_failures_per_key_throttle_even_the_right_key(
    make_auth_client: Callable[..., TestClient], issue_key: Callable[..., dict[str, Any]]
) -> None:
    client = make_auth_client(login_failures_per_key=3)
    key = issue_key()
    assert [attempt(client, key, "wrong").status_code for _ in range(3)] == [401] * 3
    throttled = attempt(client, key, key["private_key"])
    assert throttled.status_code == 429
    assert throttled.headers["content-type"] == "application/problem+json"
    assert 1 <= int(throttled.headers["retry-after"]) <= 300
    assert attempt(client, issue_key(), "wrong").status_code == 401  # other keys unaffected


def test_failures_per_ip_throttle_across_keys_and_trust_xff_only_from_the_gateway(
    make_auth_client: Callable[..., TestClient],
    issue_key: Callable[..., dict[str, Any]],
    internal_headers: dict[str, str],
) -> None:
    client = make_auth_client(login_failures_per_ip=2)
    from_gateway = {**internal_headers, "X-Forwarded-For": "203.0.113.7"}
    assert attempt(client, issue_key(), "x", **from_gateway).status_code == 401
    assert attempt(client, issue_key(), "x", **from_gateway).status_code == 401
    assert attempt(client, issue_key(), "x", **from_gateway).status_code == 429
    # Another IP via the gateway is fine; a client cannot pick its IP without the internal key.
    other = {**internal_headers, "X-Forwarded-For": "203.0.113.8"}
    assert attempt(client, issue_key(), "x", **other).status_code == 401
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    codes = [attempt(client, issue_key(), "x", **spoofed).status_code for _ in range(3)]
    assert codes == [401, 401, 429]  # all counted against the real peer


def test_a_refused_internal_key_is_a_401_for_the_gateway_not_a_failed_login(
    make_auth_client: Callable[..., TestClient], issue_key: Callable[..., dict[str, Any]]
) -> None:
    client = make_auth_client(login_failures_per_ip=1, login_failures_per_key=1)
    key = issue_key()
    stale = {"X-Paylab-Internal-Key": "rotated-away", "X-Forwarded-For": "203.0.113.10"}
    for _ in range(3):  # wrong private keys, but the login never ran: no failure counted
        answer = attempt(client, key, "wrong", **stale)
        assert answer.status_code == 401
        assert answer.json()["type"].endswith("/internal-credential-refused")
    # One failure would already throttle this key and this peer (limits of 1): none was.
    assert attempt(client, key, key["private_key"]).status_code == 200
