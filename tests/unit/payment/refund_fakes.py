"""Fakes the refund tests share: an approved payment and a repository that folds for real."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from paylab.payment import domain
from paylab.payment.domain import EventRecord, PaymentState, Status
from paylab.payment.repository import NewEvents

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def approved(method: str = "card") -> PaymentState:
    return PaymentState(
        id="p-1",
        merchant_id="m-1",
        ref_payco="100000001",
        reference="order-1",
        description="",
        method=method,
        amount=Decimal("20000.00"),
        currency="COP",
        status=Status.APPROVED,
        customer={},
        idempotency_key="k",
        request_hash="h",
        version=3,
        created_at=NOW,
        updated_at=NOW,
        authorization_id="auth-1" if method == "card" else None,
        outcome_status=Status.APPROVED,
    )


class Repo:
    """Appends through the real fold, as the repository does."""

    def __init__(self, state: PaymentState) -> None:
        self.state = state
        self.appended: list[NewEvents] = []

    def get(self, payment_id: str) -> PaymentState:
        return self.state

    def change(self, payment_id: str, decide: Any) -> PaymentState:
        events = decide(self.state)
        if events:
            self.appended.append(events)
            for kind, data in events:
                record = EventRecord(
                    f"e{self.state.version + 1}", kind, self.state.version + 1, NOW, data
                )
                self.state = domain.evolve(self.state, record)
        return self.state
