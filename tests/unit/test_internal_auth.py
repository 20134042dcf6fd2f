"""The internal credential check: cached on the event loop, fetched again on a mismatch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from paylab.core import internal_auth
from paylab.core.app import create_app
from paylab.core.internal_auth import HEADER, InternalCaller
from paylab.core.lazy import Lazy
from paylab.core.secrets import SecretReader


class FakeSecretsManager:
    """GetSecretValue over one secret whose value the test rotates; counts the calls."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.calls = 0

    def get_secret_value(self, SecretId: str, VersionStage: str) -> dict[str, Any]:
        self.calls += 1
        return {"SecretString": json.dumps({"password": self.value})}


@pytest.fixture
def sm(monkeypatch: pytest.MonkeyPatch) -> FakeSecretsManager:
    fake = FakeSecretsManager("first")
    monkeypatch.setattr(internal_auth, "_reader", SecretReader(sm=fake))
    monkeypatch.setattr(internal_auth, "_secret_id", Lazy(lambda: "internal-credential"))
    return fake


@pytest.fixture
def client() -> TestClient:
    app: FastAPI = create_app("test", [], title="test")

    @app.get("/internal/ping")
    def ping(_: InternalCaller) -> dict[str, str]:
        return {"ok": "yes"}

    return TestClient(app)


def test_the_cached_credential_is_checked_without_fetching_again(
    sm: FakeSecretsManager, client: TestClient
) -> None:
    for _ in range(5):
        assert client.get("/internal/ping", headers={HEADER: "first"}).status_code == 200
    assert sm.calls == 1


def test_a_rotated_credential_is_fetched_once_and_then_cached(
    sm: FakeSecretsManager, client: TestClient
) -> None:
    assert client.get("/internal/ping", headers={HEADER: "first"}).status_code == 200
    sm.value = "second"  # rotated
    assert client.get("/internal/ping", headers={HEADER: "second"}).status_code == 200
    calls = sm.calls
    assert client.get("/internal/ping", headers={HEADER: "second"}).status_code == 200
    assert sm.calls == calls
    refused = client.get("/internal/ping", headers={HEADER: "first"})
    assert refused.status_code == 401
    assert refused.json()["detail"] == f"Invalid {HEADER}."


def test_a_missing_credential_is_refused_without_fetching(
    sm: FakeSecretsManager, client: TestClient
) -> None:
    answer = client.get("/internal/ping")
    assert answer.status_code == 401
    assert answer.json()["detail"] == f"Missing {HEADER}."
    assert sm.calls == 0
