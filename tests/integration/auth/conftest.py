"""auth against the running stack: real Postgres (auth schema), Redis and Secrets Manager."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from paylab.auth.app import create
from paylab.auth.settings import AuthSettings
from paylab.core.internal_auth import HEADER, internal_credential
from paylab.core.settings import get_settings

from ..resources import delete_api_keys


def unique_merchant() -> str:
    return f"it-m-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def internal_headers() -> dict[str, str]:
    return {HEADER: internal_credential()}


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix no other test uses; its keys are deleted afterwards."""
    prefix = f"paylab:it:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(get_settings().redis_dsn())
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def make_auth_client(redis_prefix: str) -> Iterator[Callable[..., TestClient]]:
    """make(**settings) -> a started auth app (TestClient); stopped afterwards."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = AuthSettings(redis_key_prefix=redis_prefix, **overrides)
        client = TestClient(create(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def auth_client(make_auth_client: Callable[..., TestClient]) -> TestClient:
    return make_auth_client()


@pytest.fixture
def merchants() -> Iterator[Callable[[], str]]:
    """new() -> a unique merchant id; its API keys are deleted afterwards."""
    created: list[str] = []

    def new() -> str:
        created.append(unique_merchant())
        return created[-1]

    yield new
    delete_api_keys(created)


@pytest.fixture
def issue_key(
    auth_client: TestClient, internal_headers: dict[str, str], merchants: Callable[[], str]
) -> Callable[..., dict[str, Any]]:
    """issue(merchant_id=None) -> the created key pair (a new merchant unless given)."""

    def issue(merchant_id: str | None = None) -> dict[str, Any]:
        merchant_id = merchant_id or merchants()
        response = auth_client.post(
            f"/internal/merchants/{merchant_id}/api-keys", headers=internal_headers
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return issue
