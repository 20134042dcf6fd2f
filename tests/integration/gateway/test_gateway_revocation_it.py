"""Revoking an API key in auth makes its bearer tokens fail at the gateway on the next request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import redis
from fastapi.testclient import TestClient

from paylab.core.internal_auth import HEADER, internal_credential
from paylab.core.settings import get_settings

from .conftest import REVOKED_PREFIX
from .servers import EchoUpstream, ServerThread


def login(gateway: TestClient, key: dict[str, Any]) -> httpx.Response:
    body = {"public_key": key["public_key"], "private_key": key["private_key"]}
    return gateway.post("/v1/auth/login", json=body)


def revoke(auth_server: ServerThread, public_key: str) -> httpx.Response:
    return httpx.delete(
        f"{auth_server.url}/internal/api-keys/{public_key}",
        headers={HEADER: internal_credential()},
    )


def test_a_revoked_keys_token_is_refused_on_the_next_request(
    gateway: TestClient,
    auth_server: ServerThread,
    upstream: EchoUpstream,
    merchant_keys: Callable[[], dict[str, Any]],
) -> None:
    key, other = merchant_keys(), merchant_keys()
    token = login(gateway, key).json()["bearer_token"]
    other_token = login(gateway, other).json()["bearer_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert gateway.get("/v1/payments/p-1", headers=bearer).status_code == 200

    assert revoke(auth_server, key["public_key"]).status_code == 204
    before = len(upstream.received)
    refused = gateway.get("/v1/payments/p-1", headers=bearer)
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert "revoked" in refused.json()["detail"]
    assert len(upstream.received) == before  # nothing reached the service

    # Only that key's tokens: the merchant's other keys (here another merchant's) still work.
    other_bearer = {"Authorization": f"Bearer {other_token}"}
    assert gateway.get("/v1/payments/p-1", headers=other_bearer).status_code == 200
    assert login(gateway, key).status_code == 401  # and no new token for the revoked key


def test_the_revocation_lives_as_long_as_the_tokens_and_a_repeat_republishes_it(
    gateway: TestClient,
    auth_server: ServerThread,
    merchant_keys: Callable[[], dict[str, Any]],
) -> None:
    key = merchant_keys()
    token = login(gateway, key).json()["bearer_token"]
    assert revoke(auth_server, key["public_key"]).status_code == 204
    client = redis.Redis.from_url(get_settings().redis_dsn())
    try:
        listed = list(client.scan_iter(match=REVOKED_PREFIX + "*", count=1000))
        ttls = [client.ttl(k) for k in listed]
        assert listed and all(0 < ttl <= 3600 + 300 + 1 for ttl in ttls), ttls
        client.delete(*listed)  # Redis lost the list (restart, eviction) ...
        bearer = {"Authorization": f"Bearer {token}"}
        assert gateway.get("/v1/payments/p-1", headers=bearer).status_code == 200
        assert revoke(auth_server, key["public_key"]).status_code == 204  # ... repeat the revoke
        assert gateway.get("/v1/payments/p-1", headers=bearer).status_code == 401
    finally:
        client.close()
