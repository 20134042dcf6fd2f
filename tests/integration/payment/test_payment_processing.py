"""The SAGA's internal endpoints for cards and wallets: process, outcome (refunds: own file)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from paylab.payment.wiring import Services

from .conftest import (
    APPROVED_CARD,
    BANK,
    FAILED_CARD,
    REJECTED_CARD,
    bank_calls,
    card_body,
    create_payment,
    db_rows,
    outbox_types,
    wallet_body,
)

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def bank_fault(sim_faults: Callable[[str, dict[str, Any]], str]) -> Callable[[dict[str, Any]], str]:
    """add(rule) -> id: a fault rule on the bank, removed after the test."""
    return lambda rule: sim_faults(BANK, rule)


@pytest.mark.parametrize(
    ("card", "outcome", "reason"),
    [
        (APPROVED_CARD, "approved", None),
        (REJECTED_CARD, "rejected", "insufficient_funds"),
        (FAILED_CARD, "failed", "processor_error"),
    ],
)
def test_card_outcomes_are_decided_once(
    client: TestClient,
    headers: Headers,
    internal_headers: dict[str, str],
    card: str,
    outcome: str,
    reason: str | None,
) -> None:
    payment_id = create_payment(client, headers, card_body(card))
    url = f"/internal/payments/{payment_id}/process"
    first = client.post(url, json={"attempt": 1}, headers=internal_headers)
    again = client.post(url, json={"attempt": 2}, headers=internal_headers)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json() == {"outcome": outcome, "reason": reason}
    assert bank_calls("/v1/authorizations", payment_id) == 1
    shown = client.get(f"/internal/payments/{payment_id}", headers=internal_headers).json()
    assert shown["status"] == "pending" and shown["version"] == 2  # the SAGA decides the end


def test_transient_bank_errors_are_503_then_the_retry_succeeds(
    client: TestClient,
    headers: Headers,
    internal_headers: dict[str, str],
    bank_fault: Callable[[dict[str, object]], str],
) -> None:
    payment_id = create_payment(client, headers, card_body())
    rule = bank_fault(
        {
            "match": {"path": "/v1/authorizations", "body": {"reference": payment_id}},
            "effect": {"type": "error", "status": 503},
        }
    )
    url = f"/internal/payments/{payment_id}/process"
    failed = client.post(url, json={"attempt": 1}, headers=internal_headers)
    assert failed.status_code == 503, failed.text
    assert failed.headers["content-type"].startswith("application/problem+json")
    httpx.delete(f"{BANK}/_sim/faults/{rule}")
    ok = client.post(url, json={"attempt": 2}, headers=internal_headers)
    assert ok.status_code == 200 and ok.json()["outcome"] == "approved"


def test_connection_resets_are_retried_within_one_call(
    client: TestClient,
    headers: Headers,
    internal_headers: dict[str, str],
    bank_fault: Callable[[dict[str, object]], str],
) -> None:
    payment_id = create_payment(client, headers, card_body())
    bank_fault(
        {
            "match": {"path": "/v1/authorizations", "body": {"reference": payment_id}},
            "effect": {"type": "reset"},
            "when": {"next": 1},
        }
    )
    ok = client.post(
        f"/internal/payments/{payment_id}/process", json={"attempt": 1}, headers=internal_headers
    )
    assert ok.status_code == 200 and ok.json()["outcome"] == "approved"


def test_wallet_processing_is_approved(
    client: TestClient, headers: Headers, internal_headers: dict[str, str]
) -> None:
    payment_id = create_payment(client, headers, wallet_body())
    response = client.post(
        f"/internal/payments/{payment_id}/process", json={"attempt": 1}, headers=internal_headers
    )
    assert response.json() == {"outcome": "approved", "reason": None}


def test_outcome_is_recorded_once_and_published(
    client: TestClient, headers: Headers, internal_headers: dict[str, str], svc: Services
) -> None:
    payment_id = create_payment(client, headers, card_body(REJECTED_CARD))
    url = f"/internal/payments/{payment_id}/outcome"
    first = client.post(
        url, json={"status": "rejected", "reason": "insufficient_funds"}, headers=internal_headers
    )
    again = client.post(
        url, json={"status": "rejected", "reason": "insufficient_funds"}, headers=internal_headers
    )
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json()
    assert first.json()["status"] == "rejected" and first.json()["cod_respuesta"] == 2
    other = client.post(url, json={"status": "approved"}, headers=internal_headers)
    assert other.status_code == 409
    assert sorted(outbox_types(svc, payment_id)) == [
        "PaymentCreated",
        "PaymentFailed",
        "PaymentNotificationRequested",
        "PaymentProcessingStarted",
    ]
    rows = db_rows(
        svc,
        "SELECT event_type, destinations FROM payment.outbox WHERE aggregate_id = :id",
        id=payment_id,
    )
    by_type = {r["event_type"]: set(r["destinations"]) for r in rows}
    assert by_type["PaymentFailed"] == {"sns:payment-events", "sqs:audit-ops", "sqs:merchant-ops"}
    assert by_type["PaymentNotificationRequested"] == {"sqs:notification-ops", "sqs:audit-ops"}
    # After a final outcome, processing answers it without calling the bank.
    processed = client.post(
        f"/internal/payments/{payment_id}/process", json={"attempt": 9}, headers=internal_headers
    )
    assert processed.json()["outcome"] == "rejected"
    assert bank_calls("/v1/authorizations", payment_id) == 0


def test_abandoned_outcome_and_bad_outcomes(
    client: TestClient, headers: Headers, internal_headers: dict[str, str]
) -> None:
    payment_id = create_payment(client, headers, wallet_body())
    url = f"/internal/payments/{payment_id}/outcome"
    assert client.post(url, json={"status": "maybe"}, headers=internal_headers).status_code == 422
    assert client.post(url, json={"status": "approved"}).status_code == 401
    missing = client.post(
        "/internal/payments/nope/outcome", json={"status": "approved"}, headers=internal_headers
    )
    assert missing.status_code == 404
    done = client.post(
        url, json={"status": "abandoned", "reason": "timeout"}, headers=internal_headers
    )
    assert done.json()["status"] == "abandoned" and done.json()["cod_respuesta"] == 10
