"""The internal credential check in a service: cached on the event loop, read again on a
mismatch; the credential a rotation replaced works for the grace, a refusal is typed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import pytest
from botocore.exceptions import EndpointConnectionError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from paylab.core import internal_auth
from paylab.core.accepted_keys import AcceptedKeys
from paylab.core.app import create_app
from paylab.core.internal_auth import HEADER, InternalCaller
from paylab.core.lazy import Lazy
from paylab.core.secrets import SecretReader

from .fakes import RotatingSecret


@pytest.fixture
def sm(monkeypatch: pytest.MonkeyPatch) -> RotatingSecret:
    fake = RotatingSecret("first")
    reader = SecretReader(ttl_seconds=30.0, sm=fake)
    monkeypatch.setattr(internal_auth, "_reader", reader)
    monkeypatch.setattr(internal_auth, "_secret_id", Lazy(lambda: "internal-credential"))
    accepted = AcceptedKeys(lambda: "internal-credential", reader, grace=900.0)
    monkeypatch.setattr(internal_auth, "_accepted", accepted)
    return fake


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every credential check that left the event loop for a worker thread."""
    seen: list[Any] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(func, "__name__", "") == "is_internal_caller":  # not the route's thread
            seen.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return seen


@pytest.fixture
def client() -> TestClient:
    app: FastAPI = create_app("test", [], title="test")

    @app.get("/internal/ping")
    def ping(_: InternalCaller) -> dict[str, str]:
        return {"ok": "yes"}

    return TestClient(app)


def status(client: TestClient, key: str) -> int:
    return client.get("/internal/ping", headers={HEADER: key}).status_code


def test_the_cached_credential_is_checked_on_the_event_loop(
    sm: RotatingSecret, client: TestClient, hops: list[Any]
) -> None:
    sm.versions = [("first", datetime.now(UTC))]  # a fresh stack: created a moment ago
    for _ in range(5):
        assert status(client, "first") == 200
    assert sm.calls == 2  # AWSCURRENT and AWSPREVIOUS (none), read once together
    # A fresh stack has no AWSPREVIOUS: that is known, so no request leaves the loop.
    assert len(hops) == 1


def test_a_rotated_credential_is_read_once_and_the_old_one_works_for_the_grace(
    sm: RotatingSecret, client: TestClient, hops: list[Any]
) -> None:
    assert status(client, "first") == 200
    sm.rotate("second")
    assert status(client, "second") == 200
    calls = sm.calls
    for key in ("second", "first", "second"):  # "first" is AWSPREVIOUS, in its grace
        assert status(client, key) == 200
    assert sm.calls == calls and len(hops) == 2
    refused = client.get("/internal/ping", headers={HEADER: "never"})
    assert refused.status_code == 401
    assert refused.json()["detail"] == f"Invalid {HEADER}."
    assert refused.json()["type"].endswith("/internal-credential-refused")


def test_a_credential_two_rotations_old_is_refused(sm: RotatingSecret, client: TestClient) -> None:
    sm.rotate("second")
    assert status(client, "first") == 200
    sm.rotate("third")
    assert status(client, "third") == 200  # read again: "third" current, "second" previous
    assert status(client, "first") == 401
    assert status(client, "second") == 200


def test_a_missing_credential_is_refused_without_reading_the_secret(
    sm: RotatingSecret, client: TestClient
) -> None:
    answer = client.get("/internal/ping")
    assert answer.status_code == 401
    assert answer.json()["detail"] == f"Missing {HEADER}."
    assert answer.json()["type"].endswith("/unauthenticated")
    assert sm.calls == 0


def test_is_internal_caller(sm: RotatingSecret) -> None:
    assert internal_auth.is_internal_caller("first")
    assert not internal_auth.is_internal_caller("wrong")
    assert not internal_auth.is_internal_caller(None)
    assert not internal_auth.is_internal_caller("")


def test_a_secret_that_cannot_be_read_is_a_503_not_a_500(
    monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    class Down:
        def get_secret_value(self, **_: Any) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")

    reader = SecretReader(ttl_seconds=30.0, sm=Down())
    monkeypatch.setattr(internal_auth, "_accepted", AcceptedKeys(lambda: "x", reader))
    answer = client.get("/internal/ping", headers={HEADER: "first"})
    assert answer.status_code == 503
    assert answer.json()["type"].endswith("/credentials-unavailable")
    assert answer.headers["retry-after"] == "5"
