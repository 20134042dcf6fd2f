"""`paylab dlq` and the gateway's operator route, through the deployed reprocessor Lambda.

Against the stack's own queues: `list` only reads, and `redrive` is what the five-minute
schedule does to them anyway.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paylab.cli import app
from paylab.core.dlq import QUEUES
from paylab.core.internal_auth import internal_credential, operator_key
from paylab.gateway.app import create
from paylab.gateway.ops import OPS_KEY_HEADER

pytestmark = [pytest.mark.stack, pytest.mark.timeout(120)]


def test_cli_lists_every_dead_letter_and_parking_queue() -> None:
    result = CliRunner().invoke(app, ["dlq", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed["action"] == "list"
    assert [q["queue"] for q in listed["queues"]] == sorted(QUEUES)
    for queue in listed["queues"]:
        assert set(queue["dlq"]) == {"available", "in_flight"}
        assert set(queue["parking"]) == {"available", "in_flight"}
        # Listing peeks: every parked message it saw is still there, visible.
        assert len(queue["parked"]) <= queue["parking"]["available"]


def test_cli_redrive_runs_the_lambda_and_refuses_unknown_queues() -> None:
    result = CliRunner().invoke(app, ["dlq", "redrive", "audit-ops", "--json"])
    assert result.exit_code == 0, result.output
    (queue,) = json.loads(result.output)["queues"]
    assert queue["queue"] == "audit-ops" and queue["redriven"] >= 0 and queue["parked"] >= 0

    refused = CliRunner().invoke(app, ["dlq", "redrive", "payments"])
    assert refused.exit_code == 2
    assert "unknown queue 'payments'" in refused.output


def test_gateway_redrive_needs_the_operator_key_not_the_internal_credential() -> None:
    path = "/v1/ops/dlq/notification-ops/redrive"
    with TestClient(create()) as gateway:
        assert gateway.post(path).status_code == 401
        assert gateway.post(path, headers={OPS_KEY_HEADER: "guess"}).status_code == 403
        # The internal service credential opens /internal routes, not the operators' ones.
        internal = {OPS_KEY_HEADER: internal_credential()}
        assert gateway.post(path, headers=internal).status_code == 403
        key = {OPS_KEY_HEADER: operator_key()}
        assert gateway.post("/v1/ops/dlq/payments/redrive", headers=key).status_code == 404
        response = gateway.post(path, headers=key)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["queue"] == "notification-ops"
        assert body["redriven"] >= 0 and body["parked"] >= 0
