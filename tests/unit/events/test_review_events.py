"""The antifraud review's events, built by the payment projection, match their contracts."""

from __future__ import annotations

import pytest
from test_event_producers import created, publish_stream, record

from paylab.core import outbox
from paylab.core.event_schemas import validate
from paylab.core.settings import Settings
from paylab.payment import domain


@pytest.fixture(autouse=True)
def no_validation_in_add_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "get_settings", lambda: Settings(validate_events=False))


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_held_and_reviewed_payments_publish_valid_events(decision: str) -> None:
    reason = None if decision == "approve" else "stolen card"
    session = publish_stream(
        [
            created(decision="review"),
            record(2, domain.HELD_FOR_REVIEW, reason="antifraud_review"),
            record(3, domain.REVIEWED, decision=decision, reason=reason),
        ]
    )
    events = session.events()
    for envelope in events:
        validate(envelope)
    by_type = {e["type"]: e for e in events}
    held, reviewed = by_type["PaymentHeld"], by_type["PaymentReviewed"]
    assert (held["data"]["status"], held["data"]["cod_respuesta"]) == ("held", 7)
    assert held["data"]["reason"] == "antifraud_review"
    status = "pending" if decision == "approve" else "held"
    assert (reviewed["data"]["status"], reviewed["data"]["decision"]) == (status, decision)
    assert reviewed["data"]["review_reason"] == reason


def test_held_goes_to_the_merchants_topic_and_the_decision_to_audit() -> None:
    session = publish_stream(
        [
            created(decision="review"),
            record(2, domain.HELD_FOR_REVIEW, reason="antifraud_review"),
            record(3, domain.REVIEWED, decision="approve", reason=None),
        ]
    )
    destinations = {payload["type"]: where for payload, where in session.outbox}
    assert list(destinations["PaymentHeld"]) == [
        "sns:payment-events",
        "sqs:audit-ops",
        "sqs:merchant-ops",
    ]
    assert destinations["PaymentReviewed"] == ["sqs:audit-ops"]
