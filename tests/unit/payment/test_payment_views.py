"""What a PSE payment shows its merchant: the bank page, withheld while a review is pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paylab.payment import domain
from paylab.payment.domain import EventRecord, PaymentState
from paylab.payment.views import created_body, payment_out

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = "http://127.0.0.1:9001/pse/pay/txn-1"


def pse_payment(decision: str, *events: tuple[str, dict[str, Any]]) -> PaymentState:
    created = {
        "payment_id": "p-1",
        "merchant_id": "m-1",
        "ref_payco": "100000001",
        "reference": "order-1",
        "method": "pse",
        "amount": "6000000.00",
        "currency": "COP",
        "customer": {"email": "ana@example.com", "name": "Ana"},
        "idempotency_key": "k-1",
        "request_hash": "h",
        "pse": {"bank_code": "1007", "transaction_id": "txn-1", "redirect_url": PAGE},
        "antifraud": {"decision": decision, "score": 40 if decision == "review" else 5},
    }
    pairs = [(domain.CREATED, created), *events]
    state = domain.fold(
        [
            EventRecord(f"e{i}", kind, i, T0 + timedelta(seconds=i), data)
            for i, (kind, data) in enumerate(pairs, start=1)
        ]
    )
    assert state is not None
    return state


HELD = (domain.HELD_FOR_REVIEW, {"reason": "antifraud_review"})
APPROVE = (domain.REVIEWED, {"decision": "approve", "reason": "known customer"})
REJECT = (domain.REVIEWED, {"decision": "reject", "reason": "stolen card"})


def shown(state: PaymentState) -> tuple[Any, Any, Any]:
    """(201's next_action, GET's next_action, GET's pse.redirect_url)."""
    out = payment_out(state)
    assert out.pse is not None
    next_action = out.next_action.redirect_url if out.next_action else None
    created = created_body(state)["next_action"]
    return (created and created["redirect_url"], next_action, out.pse.redirect_url)


def test_an_approved_by_antifraud_pse_payment_sends_the_payer_to_the_bank() -> None:
    assert shown(pse_payment("approve")) == (PAGE, PAGE, PAGE)


@pytest.mark.parametrize("events", [(), (HELD,), (HELD, REJECT)])
def test_no_bank_page_while_a_review_has_not_approved(
    events: tuple[tuple[str, dict[str, Any]], ...],
) -> None:
    assert shown(pse_payment("review", *events)) == (None, None, None)


def test_the_operators_approval_shows_the_bank_page() -> None:
    assert shown(pse_payment("review", HELD, APPROVE)) == (PAGE, PAGE, PAGE)
