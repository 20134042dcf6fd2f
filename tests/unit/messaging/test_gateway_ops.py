"""The gateway's operator route: operator key, known queues, the reprocessor's answer."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient

from paylab.core.dlq import ReprocessorFailed
from paylab.gateway.ops import OPS_KEY_HEADER, handle_ops
from paylab.gateway.routing import match

KEY = "operator-secret"


def _client(invoke: Any) -> TestClient:
    app = FastAPI()

    async def credential() -> str:
        return KEY

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def ops(request: Request) -> Response:
        return await handle_ops(request, request.url.path, credential, invoke)

    return TestClient(app)


def test_ops_paths_are_the_gateways_own_not_a_merchant_route() -> None:
    route = match("/v1/ops/dlq/audit-ops/redrive")
    assert route is not None and route.operator and not route.public


def test_redrive_with_the_operator_key_invokes_the_reprocessor() -> None:
    calls: list[tuple[str, str]] = []

    def invoke(action: str, queue: str) -> dict[str, Any]:
        calls.append((action, queue))
        return {"action": action, "queues": [{"queue": queue, "redriven": 2, "parked": 1}]}

    response = _client(invoke).post(
        "/v1/ops/dlq/notification-ops/redrive", headers={OPS_KEY_HEADER: KEY}
    )

    assert response.status_code == 200
    assert response.json() == {"queue": "notification-ops", "redriven": 2, "parked": 1}
    assert calls == [("redrive", "notification-ops")]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({OPS_KEY_HEADER: "wrong"}, 403), ({"authorization": "Bearer x"}, 401)],
)
def test_without_the_operator_key_nothing_is_invoked(headers: dict[str, str], status: int) -> None:
    def invoke(*_: Any) -> dict[str, Any]:
        raise AssertionError("must not be invoked")

    response = _client(invoke).post("/v1/ops/dlq/audit-ops/redrive", headers=headers)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/v1/ops/dlq/payments/redrive", 404),
        ("POST", "/v1/ops/dlq/audit-ops", 404),
        ("POST", "/v1/ops/other", 404),
        ("GET", "/v1/ops/dlq/audit-ops/redrive", 405),
    ],
)
def test_unknown_queues_and_paths(method: str, path: str, status: int) -> None:
    response = _client(lambda *_: {}).request(method, path, headers={OPS_KEY_HEADER: KEY})
    assert response.status_code == status


def test_a_failing_reprocessor_is_a_retryable_503() -> None:
    def invoke(*_: Any) -> dict[str, Any]:
        raise ReprocessorFailed("boom")

    response = _client(invoke).post("/v1/ops/dlq/audit-ops/redrive", headers={OPS_KEY_HEADER: KEY})

    assert response.status_code == 503 and response.headers["retry-after"] == "5"
