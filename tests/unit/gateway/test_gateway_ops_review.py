"""The gateway's review route: operator key first, then the payment service's own answer."""

from __future__ import annotations

import json

import pytest
import yaml
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient

from paylab.core.dlq import QUEUES
from paylab.core.openapi_export import spec_path
from paylab.gateway.ops import OPS_KEY_HEADER, handle_ops
from paylab.gateway.routing import match

KEY = "operator-secret"


def _client(forwarded: list[tuple[str, str, bytes]]) -> TestClient:
    app = FastAPI()

    async def credential() -> str:
        return KEY

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def ops(request: Request) -> Response:
        async def forward(service: str, path: str) -> Response:
            forwarded.append((service, path, await request.body()))
            return Response(b'{"status": "held"}', status_code=409, media_type="application/json")

        return await handle_ops(request, request.url.path, credential, forward=forward)

    return TestClient(app)


def test_the_review_route_is_an_operator_route() -> None:
    route = match("/v1/ops/payments/abc/review")
    assert route is not None and route.operator and not route.public


def test_a_decision_goes_to_the_payment_services_internal_path_as_sent() -> None:
    forwarded: list[tuple[str, str, bytes]] = []
    body = json.dumps({"decision": "reject", "reason": "stolen card"}).encode()
    response = _client(forwarded).post(
        "/v1/ops/payments/pay_1-x/review", headers={OPS_KEY_HEADER: KEY}, content=body
    )
    assert forwarded == [("payment", "/internal/payments/pay_1-x/review", body)]
    # The service's answer passes through unchanged (here its 409).
    assert (response.status_code, response.json()) == (409, {"status": "held"})


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({OPS_KEY_HEADER: "wrong"}, 403)])
def test_without_the_operator_key_nothing_is_forwarded(
    headers: dict[str, str], status: int
) -> None:
    forwarded: list[tuple[str, str, bytes]] = []
    response = _client(forwarded).post(
        "/v1/ops/payments/p1/review", headers=headers, json={"decision": "approve"}
    )
    assert response.status_code == status and forwarded == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/v1/ops/payments/p1", 404),
        ("POST", "/v1/ops/payments/p.1/review", 404),
        ("POST", "/v1/ops/payments/" + "x" * 65 + "/review", 404),
        ("GET", "/v1/ops/payments/p1/review", 405),
    ],
)
def test_other_paths_and_methods(method: str, path: str, status: int) -> None:
    forwarded: list[tuple[str, str, bytes]] = []
    response = _client(forwarded).request(method, path, headers={OPS_KEY_HEADER: KEY})
    assert response.status_code == status and forwarded == []


def test_the_contract_lists_every_queue_the_redrive_route_takes() -> None:
    """The route answers for each queue of core/dlq.QUEUES; the contract names the same ones."""
    spec = yaml.safe_load(spec_path("gateway").read_text())
    [parameter] = spec["paths"]["/v1/ops/dlq/{queue}/redrive"]["post"]["parameters"]
    assert parameter["schema"]["enum"] == list(QUEUES)
    answer = spec["components"]["schemas"]["DlqRedrive"]["properties"]["queue"]
    assert answer["enum"] == list(QUEUES)
