"""The refund use case's order of steps, with fakes: money is reserved before the bank moves."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest

from paylab.core.problems import Problem
from paylab.payment import refunds
from paylab.payment.domain import PaymentState, Status
from paylab.payment.partners import PartnerRejected, PartnerUnavailable
from paylab.payment.repository import NewEvents
from paylab.payment.wiring import Services

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
    def __init__(self, state: PaymentState) -> None:
        self.state = state
        self.appended: list[NewEvents] = []

    def get(self, payment_id: str) -> PaymentState:
        return self.state

    def change(self, payment_id: str, decide: Any) -> PaymentState:
        events = decide(self.state)
        if events:
            self.appended.append(events)
            self.state = dataclasses.replace(self.state, status=Status.REVERSED)
        return self.state


class Steps:
    """The wallet and the bank, recording every call in one ordered log."""

    def __init__(self, *, wallet_refusal: str | None = None, bank: Exception | None = None):
        self.log: list[str] = []
        self.wallet_refusal = wallet_refusal
        self.bank_error = bank
        self.refund_status = "reserved"

    def reserve_refund(self, **_: Any) -> dict[str, Any]:
        self.log.append("wallet.reserve")
        if self.wallet_refusal:
            problem = {"type": f"https://paylab.dev/problems/{self.wallet_refusal}", "detail": "x"}
            raise PartnerRejected("wallet", 409, problem)
        return {"id": "r-1", "status": self.refund_status, "reference": None}

    def complete_refund(self, refund_id: str, **kw: Any) -> dict[str, Any]:
        self.log.append("wallet.complete")
        return {"id": refund_id, "status": "refunded", "reference": kw["reference"]}

    def cancel_refund(self, refund_id: str, **_: Any) -> dict[str, Any]:
        self.log.append("wallet.cancel")
        return {"id": refund_id, "status": "cancelled"}

    def refund(self, auth_id: str) -> dict[str, Any]:
        self.log.append("bank.refund")
        if self.bank_error:
            raise self.bank_error
        return {"id": "rf-1"}


def services(state: PaymentState, steps: Steps) -> tuple[Services, Repo]:
    repo = Repo(state)
    return cast(Services, SimpleNamespace(repo=repo, wallet=steps, bank=steps)), repo


def test_card_reserve_then_bank_then_complete_then_event() -> None:
    steps = Steps()
    svc, repo = services(approved(), steps)
    after = refunds.refund_payment(svc, "m-1", "p-1")
    assert steps.log == ["wallet.reserve", "bank.refund", "wallet.complete"]
    assert after.status is Status.REVERSED
    assert repo.appended[0][0][1]["refund_id"] == "rf-1"


@pytest.mark.parametrize("method", ["wallet", "pse"])
def test_no_partner_step_for_wallet_and_pse(method: str) -> None:
    steps = Steps()
    svc, repo = services(approved(method), steps)
    refunds.refund_payment(svc, "m-1", "p-1")
    assert steps.log == ["wallet.reserve", "wallet.complete"]
    assert repo.appended[0][0][1]["refund_id"] == "r-1"


def test_short_of_funds_the_bank_is_never_asked() -> None:
    steps = Steps(wallet_refusal="insufficient-funds")
    svc, repo = services(approved(), steps)
    with pytest.raises(Problem) as refused:
        refunds.refund_payment(svc, "m-1", "p-1")
    assert (refused.value.status, refused.value.slug) == (409, "insufficient-funds")
    assert steps.log == ["wallet.reserve"] and repo.appended == []


def test_a_bank_refusal_cancels_the_reservation() -> None:
    steps = Steps(bank=PartnerRejected("bank", 422, {"detail": "no"}))
    svc, repo = services(approved(), steps)
    with pytest.raises(Problem) as refused:
        refunds.refund_payment(svc, "m-1", "p-1")
    assert refused.value.slug == "refund-refused"
    assert steps.log == ["wallet.reserve", "bank.refund", "wallet.cancel"]
    assert repo.appended == []


def test_a_bank_outage_keeps_the_reservation_for_the_retry() -> None:
    steps = Steps(bank=PartnerUnavailable("bank down"))
    svc, repo = services(approved(), steps)
    with pytest.raises(Problem) as unavailable:
        refunds.refund_payment(svc, "m-1", "p-1")
    assert unavailable.value.status == 503
    assert steps.log == ["wallet.reserve", "bank.refund"] and repo.appended == []


def test_an_already_completed_refund_is_only_recorded() -> None:
    steps = Steps()
    steps.refund_status = "refunded"  # a crash after the wallet completed, before the event
    svc, repo = services(approved(), steps)
    refunds.refund_payment(svc, "m-1", "p-1")
    assert steps.log == ["wallet.reserve"] and len(repo.appended) == 1


def test_pending_and_other_merchants_payments_are_refused_before_any_step() -> None:
    steps = Steps()
    pending = dataclasses.replace(approved(), status=Status.PENDING, outcome_status=None)
    svc, _ = services(pending, steps)
    with pytest.raises(Problem) as refused:
        refunds.refund_payment(svc, "m-1", "p-1")
    assert refused.value.status == 409
    svc, _ = services(approved(), steps)
    with pytest.raises(Problem) as unknown:
        refunds.refund_payment(svc, "m-2", "p-1")
    assert unknown.value.status == 404
    assert steps.log == []
