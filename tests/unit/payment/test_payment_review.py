"""Antifraud review in the fold: held (cod 7), the operator's decision, and what it allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paylab.payment import domain
from paylab.payment.domain import EventRecord, InvalidTransition, Status

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CREATED = {
    "payment_id": "p-1",
    "merchant_id": "m-1",
    "ref_payco": "100000001",
    "reference": "order-1",
    "method": "card",
    "amount": "6000000.00",
    "currency": "COP",
    "customer": {"email": "ana@example.com", "name": "Ana"},
    "idempotency_key": "k-1",
    "request_hash": "h",
    "card": {"token": "tok_1", "brand": "visa", "last4": "0326"},
    "antifraud": {"decision": "review", "score": 40},
}


def stream(*events: tuple[str, dict[str, Any]]) -> list[EventRecord]:
    """A stream that starts with a reviewed card payment's PaymentCreated."""
    pairs = [(domain.CREATED, CREATED), *events]
    return [
        EventRecord(f"e{i}", kind, i, T0 + timedelta(seconds=i), data)
        for i, (kind, data) in enumerate(pairs, start=1)
    ]


HELD = (domain.HELD_FOR_REVIEW, {"reason": "antifraud_review"})
APPROVE = (domain.REVIEWED, {"decision": "approve", "reason": "known customer"})
REJECT = (domain.REVIEWED, {"decision": "reject", "reason": "stolen card"})


def test_held_is_cod_7_and_not_final() -> None:
    state = domain.fold(stream(HELD))
    assert state is not None
    assert (state.status, state.cod_respuesta, state.is_final) == (Status.HELD, 7, False)
    assert state.antifraud_decision == "review" and state.review_decision is None


def test_approval_goes_back_to_processing_then_to_approved() -> None:
    processed = (domain.PROCESSED, {"outcome": "approved", "authorization_id": "a1"})
    completed = (domain.COMPLETED, {"status": "approved", "reason": None})
    reviewed = domain.fold(stream(HELD, APPROVE))
    assert reviewed is not None
    assert (reviewed.status, reviewed.cod_respuesta) == (Status.PENDING, 3)
    assert (reviewed.review_decision, reviewed.review_reason) == ("approve", "known customer")
    final = domain.fold(stream(HELD, APPROVE, processed, completed))
    assert final is not None and (final.status, final.cod_respuesta) == (Status.APPROVED, 1)
    assert final.review_decision == "approve"


def test_rejection_stays_held_until_the_saga_records_rejected() -> None:
    reviewed = domain.fold(stream(HELD, REJECT))
    assert reviewed is not None
    assert (reviewed.status, reviewed.review_decision) == (Status.HELD, "reject")
    failed = (domain.FAILED, {"status": "rejected", "reason": "review-rejected"})
    final = domain.fold(stream(HELD, REJECT, failed))
    assert final is not None
    assert (final.status, final.cod_respuesta, final.outcome_reason) == (
        Status.REJECTED,
        2,
        "review-rejected",
    )


def test_a_review_nobody_decides_ends_rejected_by_timeout() -> None:
    timeout = (domain.FAILED, {"status": "rejected", "reason": "review-timeout"})
    final = domain.fold(stream(HELD, timeout))
    assert final is not None
    assert (final.status, final.outcome_reason, final.review_decision) == (
        Status.REJECTED,
        "review-timeout",
        None,
    )


@pytest.mark.parametrize(
    ("events", "why"),
    [
        ((APPROVE,), "a decision needs a held payment"),
        ((HELD, APPROVE, REJECT), "one decision per payment"),
        ((HELD, HELD), "held twice"),
        ((HELD, (domain.REVIEWED, {"decision": "maybe"})), "unknown decision"),
        ((HELD, (domain.PROCESSED, {"outcome": "approved"})), "no charge while held"),
        ((HELD, (domain.COMPLETED, {"status": "approved"})), "no approval without review"),
        ((HELD, REJECT, (domain.COMPLETED, {"status": "approved"})), "rejected is not approved"),
    ],
)
def test_what_the_state_machine_refuses(events: tuple[tuple[str, Any], ...], why: str) -> None:
    with pytest.raises(InvalidTransition):
        domain.fold(stream(*events))
