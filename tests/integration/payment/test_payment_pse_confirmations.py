"""PSE: signed confirmations recorded once, and the SAGA's task token honoured (real
waitForTaskToken state machine in LocalStack, fed through SQS instead of a Lambda)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from paylab.payment.wiring import Services

from ..resources import AwsClients, Queue
from ..waiting import wait_until
from .conftest import PSE, db_rows, pse_body, signed

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def waiter(
    sqs_create_queue: Callable[..., Queue],
    sfn_create_state_machine: Callable[[dict[str, Any]], str],
    aws: AwsClients,
) -> Callable[[str], tuple[str, str]]:
    """start(payment_id) -> (execution ARN, task token): a SAGA step waiting on a token."""
    queue = sqs_create_queue()
    arn = sfn_create_state_machine(
        {
            "StartAt": "AwaitConfirmation",
            "States": {
                "AwaitConfirmation": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {
                        "QueueUrl": queue.url,
                        "MessageBody": {
                            "payment_id.$": "$.payment_id",
                            "task_token.$": "$$.Task.Token",
                        },
                    },
                    "TimeoutSeconds": 120,
                    "End": True,
                }
            },
        }
    )

    def start(payment_id: str) -> tuple[str, str]:
        execution = aws.stepfunctions.start_execution(
            stateMachineArn=arn, name=payment_id, input=json.dumps({"payment_id": payment_id})
        )["executionArn"]

        def token() -> str | None:
            got = aws.sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=2)
            for message in got.get("Messages", []):
                body = json.loads(message["Body"])
                if body["payment_id"] == payment_id:
                    return str(body["task_token"])
            return None

        return str(execution), wait_until(token, timeout=30, description="the task token")

    return start


@pytest.fixture
def pse_fault(sim_faults: Callable[[str, dict[str, Any]], str]) -> Callable[[dict[str, Any]], str]:
    """add(rule) -> id: a fault rule on PSE, removed after the test."""
    return lambda rule: sim_faults(PSE, rule)


def finished(aws: AwsClients, execution: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        found = dict(aws.stepfunctions.describe_execution(executionArn=execution))
        return None if found["status"] == "RUNNING" else found

    return wait_until(done, timeout=30, description="the execution to finish")


def create(client: TestClient, headers: Headers, bank: str) -> dict[str, Any]:
    response = client.post("/v1/payments", json=pse_body(bank), headers=headers())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def confirmations(svc: Services, payment_id: str) -> list[dict[str, Any]]:
    return db_rows(
        svc, "SELECT status FROM payment.pse_confirmations WHERE payment_id = :p", p=payment_id
    )


def test_an_outcome_known_before_the_wait_answers_the_token_at_once(
    client: TestClient,
    headers: Headers,
    internal_headers: dict[str, str],
    svc: Services,
    aws: AwsClients,
    waiter: Callable[[str], tuple[str, str]],
) -> None:
    payment = create(client, headers, "9991")  # PSE approves at once and confirms
    wait_until(lambda: confirmations(svc, payment["id"]), description="PSE's confirmation")
    execution, token = waiter(payment["id"])
    response = client.post(
        f"/internal/payments/{payment['id']}/await-confirmation",
        json={"task_token": token},
        headers=internal_headers,
    )
    assert response.status_code == 200 and response.json() == {}
    result = finished(aws, execution)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"outcome": "approved", "reason": None}
    processed = client.post(
        f"/internal/payments/{payment['id']}/process",
        json={"attempt": 1},
        headers=internal_headers,
    )
    assert processed.json() == {"outcome": "approved", "reason": None}


def test_duplicate_confirmations_make_one_outcome_and_wake_the_saga(
    client: TestClient,
    headers: Headers,
    internal_headers: dict[str, str],
    svc: Services,
    aws: AwsClients,
    waiter: Callable[[str], tuple[str, str]],
    pse_fault: Callable[[dict[str, Any]], str],
) -> None:
    payment = create(client, headers, "1007")  # a real bank: waits for the payer
    execution, token = waiter(payment["id"])
    client.post(
        f"/internal/payments/{payment['id']}/await-confirmation",
        json={"task_token": token},
        headers=internal_headers,
    ).raise_for_status()
    assert aws.stepfunctions.describe_execution(executionArn=execution)["status"] == "RUNNING"
    pse_fault(
        {
            "match": {"body": {"reference": payment["id"]}},
            "effect": {"type": "duplicate", "copies": 2},
        }
    )
    txn = payment["next_action"]["redirect_url"].rsplit("/", 1)[1]
    decided = httpx.post(f"{PSE}/bank/{txn}/decision", data={"decision": "approve"})
    assert decided.status_code == 303
    result = finished(aws, execution)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["outcome"] == "approved"
    delivered = httpx.get(
        f"{PSE}/_sim/journal",
        params={"kind": "callback", "wait_ms": 5000, "min_count": 3, "limit": 5000},
    ).json()["entries"]
    mine = [e for e in delivered if payment["id"] in json.dumps(e)]
    assert len(mine) >= 3 and {e["status"] for e in mine} == {200}
    # A late, contradicting confirmation (signed) changes nothing; the old token is ignored.
    raw, sig = signed(
        {"transaction_id": txn, "reference": payment["id"], "status": "rejected"},
    )
    late = client.post("/callbacks/pse", content=raw, headers=sig)
    assert late.status_code == 200
    assert confirmations(svc, payment["id"]) == [{"status": "approved"}]


def test_a_late_request_never_replaces_the_live_task_token(
    client: TestClient,
    headers: Headers,
    internal_headers: dict[str, str],
    svc: Services,
    aws: AwsClients,
    waiter: Callable[[str], tuple[str, str]],
) -> None:
    """The step's Lambda gave a slow request up and retried with a new token: the slow one
    arriving last must not store its dead token, or PSE's confirmation would reach nothing."""
    payment = create(client, headers, "1007")
    execution, live = waiter(payment["id"])
    path = f"/internal/payments/{payment['id']}/await-confirmation"
    body = {"task_token": live, "sent_at_ms": int(time.time() * 1000)}
    assert client.post(path, json=body, headers=internal_headers).status_code == 200
    eight_s_ago = int(time.time() * 1000) - 8000
    given_up = {"task_token": "a-token-nobody-waits-for", "sent_at_ms": eight_s_ago}
    late = client.post(path, json=given_up, headers=internal_headers)
    assert late.status_code == 503 and late.json()["type"].endswith("/saga-step-too-slow")
    [row] = db_rows(svc, "SELECT task_token FROM payment.payments WHERE id = :id", id=payment["id"])
    assert row["task_token"] == live
    txn = payment["next_action"]["redirect_url"].rsplit("/", 1)[1]
    assert httpx.post(f"{PSE}/bank/{txn}/decision", data={"decision": "approve"}).status_code == 303
    assert finished(aws, execution)["status"] == "SUCCEEDED"


def test_out_of_order_confirmations_keep_the_first_decision(
    client: TestClient,
    headers: Headers,
    internal_headers: dict[str, str],
    svc: Services,
    aws: AwsClients,
    waiter: Callable[[str], tuple[str, str]],
) -> None:
    payment = create(client, headers, "1007")
    txn = payment["next_action"]["redirect_url"].rsplit("/", 1)[1]
    for status in ("rejected", "approved", "rejected"):
        raw, sig = signed(
            {"transaction_id": txn, "reference": payment["id"], "status": status},
        )
        assert client.post("/callbacks/pse", content=raw, headers=sig).status_code == 200
    assert confirmations(svc, payment["id"]) == [{"status": "rejected"}]
    execution, token = waiter(payment["id"])
    client.post(
        f"/internal/payments/{payment['id']}/await-confirmation",
        json={"task_token": token},
        headers=internal_headers,
    ).raise_for_status()
    result = finished(aws, execution)
    assert json.loads(result["output"]) == {"outcome": "rejected", "reason": "pse_rejected"}


def test_unsigned_or_tampered_confirmations_are_refused(
    client: TestClient, headers: Headers, svc: Services
) -> None:
    payment = create(client, headers, "1007")
    data = {"transaction_id": "x", "reference": payment["id"], "status": "approved"}
    raw, sig = signed(data)
    assert client.post("/callbacks/pse", content=raw, headers={}).status_code == 401
    tampered = raw.replace(b"approved", b"rejected")
    assert client.post("/callbacks/pse", content=tampered, headers=sig).status_code == 401
    bad = {"X-Sim-Signature": "sha256=" + "0" * 64}
    assert client.post("/callbacks/pse", content=raw, headers=bad).status_code == 401
    assert confirmations(svc, payment["id"]) == []


def test_await_confirmation_is_for_pse_payments(
    client: TestClient, headers: Headers, internal_headers: dict[str, str]
) -> None:
    body = pse_body("1007")
    body.update(
        method="card",
        card={"number": "4575623182290326", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    )
    del body["pse"]
    card = client.post("/v1/payments", json=body, headers=headers()).json()
    url = f"/internal/payments/{card['id']}/await-confirmation"
    assert client.post(url, json={"task_token": "t"}, headers=internal_headers).status_code == 409
    missing = "/internal/payments/unknown/await-confirmation"
    assert (
        client.post(missing, json={"task_token": "t"}, headers=internal_headers).status_code == 404
    )
    assert client.post(url, json={}, headers=internal_headers).status_code == 422
