"""Proxying: routes, header stripping and injection, ids, and merchant isolation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from paylab.core.internal_auth import internal_credential

from .servers import EchoUpstream, header_values

ROUTES = [
    ("GET", "/v1/payments/p-1"),
    ("POST", "/v1/payments"),
    ("POST", "/v1/payments/p-1/refund"),
    ("GET", "/v1/payments?reference=r-1"),
    ("GET", "/v1/wallets/0b6c2f8e-0000-4000-8000-000000000001"),
    ("GET", "/v1/merchants/me/balance"),
    ("GET", "/v1/merchants/me"),
    ("GET", "/v1/notifications"),
    ("GET", "/v1/audit"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_merchant_can_only_ever_act_as_itself(
    gateway: TestClient,
    login: Callable[[], tuple[str, str]],
    method: str,
    path: str,
) -> None:
    merchant_a, token_a = login()
    merchant_b, _ = login()
    spoofed = {
        "Authorization": f"Bearer {token_a}",
        "X-Paylab-Merchant-Id": merchant_b,
        "X_Paylab_Merchant_Id": merchant_b,
        "X-Paylab-Internal-Key": "guessed",
        "X-Forwarded-For": "198.51.100.1",
    }
    response = gateway.request(method, path, headers=spoofed, json={"a": 1})
    assert response.status_code in (200, 201), response.text
    seen = response.json()
    assert header_values(seen, "x-paylab-merchant-id") == [merchant_a]
    assert header_values(seen, "x-paylab-internal-key") == [internal_credential()]
    assert not header_values(seen, "x_paylab_merchant_id")
    assert not header_values(seen, "authorization")
    assert merchant_b not in str(seen["headers"])
    assert seen["path"] + ("?" + seen["query"] if seen["query"] else "") == path


def test_ids_and_idempotency_key_are_passed_on(
    gateway: TestClient, login: Callable[[], tuple[str, str]]
) -> None:
    _, token = login()
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Request-Id": "req-123",
        "X-Correlation-Id": "corr-456",
        "Idempotency-Key": "idem-789",
    }
    response = gateway.post("/v1/payments", headers=headers, content=b'{"amount":"1.00"}')
    seen = response.json()
    assert header_values(seen, "x-request-id") == ["req-123"]
    assert header_values(seen, "x-correlation-id") == ["corr-456"]
    assert header_values(seen, "idempotency-key") == ["idem-789"]
    assert seen["body"] == '{"amount":"1.00"}'
    assert response.headers["x-request-id"] == "req-123"
    assert response.headers["location"] == "/v1/payments/p1"
    assert "x-paylab-internal-key" not in response.headers  # upstream's internals stay inside


def test_ids_are_created_when_absent(
    gateway: TestClient, login: Callable[[], tuple[str, str]]
) -> None:
    _, token = login()
    response = gateway.get("/v1/payments/p-2", headers={"Authorization": f"Bearer {token}"})
    seen = response.json()
    (request_id,) = header_values(seen, "x-request-id")
    assert request_id and header_values(seen, "x-correlation-id") == [request_id]
    assert response.headers["x-request-id"] == request_id


@pytest.mark.parametrize(
    "path",
    [
        "/internal/api-keys/pub_x",
        "/internal/merchants/m/api-keys",
        "/v1/payments/../../internal/api-keys/x",
        "/v1/payments/%2e%2e/%2e%2e/internal/api-keys/x",
        "/v1/payments/..%2f..%2finternal/api-keys/x",
        "/v1/unknown",
        "/v2/payments",
    ],
)
def test_internal_and_unknown_paths_are_404_and_never_forwarded(
    gateway: TestClient,
    login: Callable[[], tuple[str, str]],
    upstream: EchoUpstream,
    path: str,
) -> None:
    _, token = login()
    before = len(upstream.received)
    for headers in ({}, {"Authorization": f"Bearer {token}"}):
        response = gateway.request("DELETE", path, headers=headers)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    assert all("internal" not in r["path"] for r in upstream.received[before:])


def test_login_needs_no_token_and_answers_like_auth(
    gateway: TestClient, merchant_keys: Callable[[], dict[str, str]]
) -> None:
    key = merchant_keys()
    ok = gateway.post(
        "/v1/auth/login",
        json={"public_key": key["public_key"], "private_key": key["private_key"]},
    )
    assert ok.status_code == 200 and set(ok.json()) == {"bearer_token", "expires_in"}
    bad = gateway.post(
        "/v1/auth/login", json={"public_key": key["public_key"], "private_key": "wrong"}
    )
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"


def test_non_ascii_header_bytes_pass_on_unchanged(
    gateway: TestClient, login: Callable[[], tuple[str, str]]
) -> None:
    """Regression (found by schemathesis): a non-ASCII byte in a header made the gateway 500."""
    _, token = login()
    headers = {"Authorization": f"Bearer {token}".encode(), "Idempotency-Key": "clé-é".encode()}
    response = gateway.post("/v1/payments", headers=headers, content=b"{}")
    assert response.status_code == 201, response.text
    # The upstream gets the very bytes the client sent, which Starlette reads as Latin-1.
    seen = header_values(response.json(), "idempotency-key")
    assert [value.encode("latin-1") for value in seen] == ["clé-é".encode()]
