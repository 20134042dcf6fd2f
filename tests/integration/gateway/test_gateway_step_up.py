"""Changing where a merchant's money or notices go needs a recently issued token (RFC 9470)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from paylab.auth.signing import KeyRing

from .servers import EchoUpstream
from .test_gateway_tokens_it import mint

CHANGES = [
    ("PUT", "/v1/merchants/me/payout-account"),
    ("PATCH", "/v1/merchants/me"),
    ("PUT", "/v1/merchants/me/webhook"),
]


def token(ring: KeyRing, age: int) -> dict[str, str]:
    now = int(time.time())
    return {"Authorization": f"Bearer {mint(ring, iat=now - age, exp=now - age + 3600)}"}


@pytest.mark.parametrize(("method", "path"), CHANGES)
def test_an_older_token_is_asked_to_log_in_again_and_nothing_reaches_the_merchant_service(
    gateway: TestClient, ring: KeyRing, upstream: EchoUpstream, method: str, path: str
) -> None:
    before = len(upstream.received)
    response = gateway.request(method, path, headers=token(ring, 400), json={"name": "x"})
    assert response.status_code == 401, response.text
    assert response.json()["type"].endswith("/step-up-required")
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge and "max_age=300" in challenge
    assert len(upstream.received) == before


@pytest.mark.parametrize(("method", "path"), CHANGES)
def test_a_fresh_token_changes_them(
    gateway: TestClient, ring: KeyRing, upstream: EchoUpstream, method: str, path: str
) -> None:
    before = len(upstream.received)
    response = gateway.request(method, path, headers=token(ring, 10), json={"name": "x"})
    assert response.status_code == 200, response.text
    assert len(upstream.received) == before + 1


def test_an_older_token_still_reads_and_does_the_rest(
    gateway: TestClient, ring: KeyRing, upstream: EchoUpstream
) -> None:
    old = token(ring, 1800)
    assert gateway.get("/v1/merchants/me", headers=old).status_code == 200
    assert gateway.get("/v1/merchants/me/payout-account", headers=old).status_code == 200
    assert gateway.get("/v1/merchants/me/webhook", headers=old).status_code == 200
    assert gateway.post("/v1/payments", headers=old, json={}).status_code == 201  # echo stub


def test_the_age_is_a_setting(make_gateway: Callable[..., TestClient], ring: KeyRing) -> None:
    relaxed = make_gateway(step_up_max_age_seconds=3600)
    response = relaxed.put("/v1/merchants/me/payout-account", headers=token(ring, 1800), json={})
    assert response.status_code == 200, response.text
