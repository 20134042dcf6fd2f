"""The gateway reads the internal credential again when a service refuses it (a rotation), and
retries the request once; a service's other 401s reach the client untouched."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from botocore.exceptions import EndpointConnectionError
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from paylab.core.internal_auth import HEADER, REFUSED
from paylab.core.problems import problem_response
from paylab.gateway.keys import CachedKey

from .servers import ServerThread

LOGIN = "/v1/auth/login"  # a public route: no token needed to reach the stub


class Upstream:
    """Accepts one internal key; refuses others as a service does; records what it saw."""

    def __init__(self) -> None:
        self.accepted = "new"
        self.seen: list[str] = []
        self.client_refusal = False  # answer 401 for the client instead (bad login)

    async def login(self, request: Request) -> Response:
        key = request.headers.get(HEADER, "")
        self.seen.append(key)
        if key != self.accepted:
            return problem_response(401, REFUSED, f"Invalid {HEADER}.")
        if self.client_refusal:
            return problem_response(401, "invalid-credentials", "Wrong keys.")
        return JSONResponse(
            {"bearer_token": "t", "expires_in": 60, "body": (await request.body()).decode()}
        )


@pytest.fixture(scope="module")
def login_stub() -> Iterator[tuple[Upstream, ServerThread]]:
    stub = Upstream()
    server = ServerThread(Starlette(routes=[Route(LOGIN, stub.login, methods=["POST"])])).start()
    yield stub, server
    server.stop()


def _gateway(
    make_gateway: Callable[..., TestClient],
    login_stub: tuple[Upstream, ServerThread],
    fetch: Callable[..., str],
) -> TestClient:
    stub, server = login_stub
    stub.seen.clear()
    client = make_gateway(auth_url=server.url)
    # As the gateway runs: fresh reads at most once a second.
    client.app.state.gateway.internal_key = CachedKey(ttl=300.0, fetch=fetch)  # type: ignore[attr-defined]
    return client


def test_a_refused_credential_is_read_again_and_the_request_sent_once_more(
    make_gateway: Callable[..., TestClient], login_stub: tuple[Upstream, ServerThread]
) -> None:
    gateway = _gateway(make_gateway, login_stub, lambda refresh=False: "new" if refresh else "old")
    body = b'{"probe": 1}'
    answer = gateway.post(LOGIN, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["body"] == body.decode()  # the same body, sent again
    assert login_stub[0].seen == ["old", "new"]
    # Read once, now cached: the next request goes through at the first try.
    assert gateway.post(LOGIN, content=body).status_code == 200
    assert login_stub[0].seen == ["old", "new", "new"]


def test_a_credential_refused_again_after_reading_it_is_a_503_not_the_clients_401(
    make_gateway: Callable[..., TestClient], login_stub: tuple[Upstream, ServerThread]
) -> None:
    gateway = _gateway(make_gateway, login_stub, lambda refresh=False: "stale")
    answer = gateway.post(LOGIN, json={"probe": 2})
    assert answer.status_code == 503, answer.text
    assert answer.json()["type"].endswith("/upstream-unavailable")
    assert answer.headers["retry-after"] == "5"
    assert login_stub[0].seen == ["stale", "stale"]  # one retry, no more


def test_a_services_401_for_the_client_passes_through_without_a_retry(
    make_gateway: Callable[..., TestClient], login_stub: tuple[Upstream, ServerThread]
) -> None:
    stub = login_stub[0]
    gateway = _gateway(make_gateway, login_stub, lambda refresh=False: "new")
    stub.client_refusal = True
    try:
        answer = gateway.post(LOGIN, json={"probe": 2})
    finally:
        stub.client_refusal = False
    assert answer.status_code == 401
    assert answer.json()["type"].endswith("/invalid-credentials")
    assert stub.seen == ["new"]


def test_a_credential_secrets_manager_cannot_give_is_a_503(
    make_gateway: Callable[..., TestClient], login_stub: tuple[Upstream, ServerThread]
) -> None:
    def unavailable(refresh: bool = False) -> str:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")

    gateway = _gateway(make_gateway, login_stub, unavailable)
    answer = gateway.post(LOGIN, json={"probe": 3})
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    assert login_stub[0].seen == []


def test_a_fresh_read_that_fails_after_a_refusal_is_a_503(
    make_gateway: Callable[..., TestClient], login_stub: tuple[Upstream, ServerThread]
) -> None:
    def stale_then_unavailable(refresh: bool = False) -> str:
        if refresh:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")
        return "stale"

    gateway = _gateway(make_gateway, login_stub, stale_then_unavailable)
    answer = gateway.post(LOGIN, json={"probe": 4})
    assert answer.status_code == 503, answer.text
    assert login_stub[0].seen == ["stale"]  # refused once; no second try without a key
