"""The gateway under test (TestClient on create()) in front of a real auth and an echo stub."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from paylab.auth.app import create as create_auth
from paylab.auth.runtime import JWT_SECRET_OUTPUT
from paylab.auth.settings import AuthSettings
from paylab.auth.signing import KeyRing, SecretsManagerVersions
from paylab.core.internal_auth import HEADER, internal_credential
from paylab.core.settings import get_settings
from paylab.core.stack_outputs import output
from paylab.gateway.app import create
from paylab.gateway.settings import UPSTREAMS, GatewaySettings

from ..resources import delete_api_keys
from .servers import EchoUpstream, ServerThread

_SESSION_PREFIX = f"paylab:it:{uuid.uuid4().hex[:12]}:"
# This session's auth and gateways share their own revocation list (deleted afterwards).
REVOKED_PREFIX = _SESSION_PREFIX + "revoked:"


def _delete_keys(prefix: str) -> None:
    client = redis.Redis.from_url(get_settings().redis_dsn())
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def auth_server() -> Iterator[ServerThread]:
    """The real auth app over HTTP (JWKS and login go through the network, as in production)."""
    settings = AuthSettings(
        redis_key_prefix=_SESSION_PREFIX + "auth:", revocation_key_prefix=REVOKED_PREFIX
    )
    server = ServerThread(create_auth(settings))
    yield server.start()
    server.stop()
    _delete_keys(_SESSION_PREFIX)


@pytest.fixture(scope="session")
def upstream() -> Iterator[EchoUpstream]:
    echo = EchoUpstream()
    server = ServerThread(echo.app).start()
    echo.url = server.url
    yield echo
    server.stop()


@pytest.fixture
def make_gateway(
    auth_server: ServerThread, upstream: EchoUpstream
) -> Iterator[Callable[..., TestClient]]:
    """make(**settings) -> the gateway's TestClient; every upstream but auth is the echo stub."""
    clients: list[TestClient] = []
    prefix = f"{_SESSION_PREFIX}gw:{uuid.uuid4().hex[:8]}:"

    def make(**overrides: Any) -> TestClient:
        urls = {f"{name}_url": upstream.url for name in UPSTREAMS}
        urls["auth_url"] = auth_server.url
        defaults = {"redis_key_prefix": prefix, "revocation_key_prefix": REVOKED_PREFIX}
        settings = GatewaySettings(**{**urls, **defaults, **overrides})
        client = TestClient(create(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    _delete_keys(prefix)


@pytest.fixture
def gateway(make_gateway: Callable[..., TestClient]) -> TestClient:
    return make_gateway()


@pytest.fixture
def merchant_keys(auth_server: ServerThread) -> Iterator[Callable[[], dict[str, Any]]]:
    """new() -> a key pair of a new, unique merchant; deleted afterwards."""
    created: list[str] = []

    def new() -> dict[str, Any]:
        merchant = f"it-gw-{uuid.uuid4().hex[:12]}"
        response = httpx.post(
            f"{auth_server.url}/internal/merchants/{merchant}/api-keys",
            headers={HEADER: internal_credential()},
        )
        assert response.status_code == 201, response.text
        created.append(merchant)
        body: dict[str, Any] = response.json()
        return body

    yield new
    delete_api_keys(created)


@pytest.fixture
def login(
    gateway: TestClient, merchant_keys: Callable[[], dict[str, Any]]
) -> Callable[[], tuple[str, str]]:
    """login() -> (merchant id, bearer token) of a new merchant, obtained through the gateway."""

    def do() -> tuple[str, str]:
        key = merchant_keys()
        body = {"public_key": key["public_key"], "private_key": key["private_key"]}
        response = gateway.post("/v1/auth/login", json=body)
        assert response.status_code == 200, response.text
        return key["merchant_id"], response.json()["bearer_token"]

    return do


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    """The stack's real signing key, to mint tokens that differ from good ones in one way."""
    return KeyRing(SecretsManagerVersions(output(JWT_SECRET_OUTPUT)))
