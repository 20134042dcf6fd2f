"""The internal credential check: cached on the event loop, fetched again on a mismatch; the
credential a rotation replaced works for the grace after it, and not after a second one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
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
        self.versions = [(value, datetime.now(UTC) - timedelta(days=40))]
        self.calls = 0

    @property
    def value(self) -> str:
        return self.versions[-1][0]

    @value.setter
    def value(self, new: str) -> None:  # a rotation: the old value becomes AWSPREVIOUS
        self.rotate(new, datetime.now(UTC))

    def rotate(self, new: str, created: datetime) -> None:
        self.versions.append((new, created))

    def get_secret_value(self, SecretId: str, VersionStage: str) -> dict[str, Any]:
        self.calls += 1
        index = {"AWSCURRENT": -1, "AWSPREVIOUS": -2}.get(VersionStage)
        if index is None or len(self.versions) < -index:
            error = {"Error": {"Code": "ResourceNotFoundException", "Message": VersionStage}}
            raise ClientError(error, "GetSecretValue")  # type: ignore[arg-type]
        value, created = self.versions[index]
        return {"SecretString": json.dumps({"password": value}), "CreatedDate": created}


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
    # "first" is AWSPREVIOUS now, and the rotation was a moment ago: still accepted.
    assert client.get("/internal/ping", headers={HEADER: "first"}).status_code == 200
    refused = client.get("/internal/ping", headers={HEADER: "never"})
    assert refused.status_code == 401
    assert refused.json()["detail"] == f"Invalid {HEADER}."
    assert refused.json()["type"].endswith("/internal-credential-refused")


def test_the_replaced_credential_stops_working_after_the_grace(
    sm: FakeSecretsManager, client: TestClient
) -> None:
    grace = internal_auth.PREVIOUS_GRACE_SECONDS
    sm.rotate("second", datetime.now(UTC) - timedelta(seconds=grace + 1))
    assert client.get("/internal/ping", headers={HEADER: "second"}).status_code == 200
    assert client.get("/internal/ping", headers={HEADER: "first"}).status_code == 401


def test_a_credential_two_rotations_old_is_refused(
    sm: FakeSecretsManager, client: TestClient
) -> None:
    sm.value = "second"
    assert client.get("/internal/ping", headers={HEADER: "first"}).status_code == 200
    sm.value = "third"
    # The first caller with "third" makes the process read the secret again (so does the
    # cache's 30 s expiry): "third" is current, "second" previous, "first" neither.
    assert client.get("/internal/ping", headers={HEADER: "third"}).status_code == 200
    assert client.get("/internal/ping", headers={HEADER: "first"}).status_code == 401
    assert client.get("/internal/ping", headers={HEADER: "second"}).status_code == 200


def test_the_replaced_credential_is_checked_from_memory_once_read(
    sm: FakeSecretsManager, client: TestClient
) -> None:
    sm.value = "second"
    assert client.get("/internal/ping", headers={HEADER: "second"}).status_code == 200
    assert client.get("/internal/ping", headers={HEADER: "first"}).status_code == 200
    calls = sm.calls
    for key in ("first", "second", "first"):
        assert client.get("/internal/ping", headers={HEADER: key}).status_code == 200
    assert sm.calls == calls


def test_is_internal_caller(sm: FakeSecretsManager) -> None:
    assert internal_auth.is_internal_caller("first")
    assert not internal_auth.is_internal_caller("wrong")
    assert not internal_auth.is_internal_caller(None)
    assert not internal_auth.is_internal_caller("")


def test_a_missing_credential_is_refused_without_fetching(
    sm: FakeSecretsManager, client: TestClient
) -> None:
    answer = client.get("/internal/ping")
    assert answer.status_code == 401
    assert answer.json()["detail"] == f"Missing {HEADER}."
    assert sm.calls == 0


def test_once_the_cache_expires_a_credential_two_rotations_old_is_refused(
    sm: FakeSecretsManager, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(internal_auth, "_reader", SecretReader(ttl_seconds=0.0, sm=sm))
    sm.value = "second"
    assert client.get("/internal/ping", headers={HEADER: "first"}).status_code == 200
    sm.value = "third"
    assert client.get("/internal/ping", headers={HEADER: "first"}).status_code == 401
