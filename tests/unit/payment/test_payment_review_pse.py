"""A PSE payment held for review: no transfer at PSE until an operator approves it (fakes)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest

from paylab.core.problems import Problem
from paylab.payment import domain, pse_transfer, review
from paylab.payment.domain import EventRecord, PaymentState, Status
from paylab.payment.partners import PartnerRejected, PartnerUnavailable
from paylab.payment.wiring import Services

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PSE_DETAILS = {
    "bank_code": "1007",
    "person_type": "natural",
    "doc_type": "CC",
    "doc_number": "1234",
}
CREATED = {
    "payment_id": "p-1",
    "merchant_id": "m-1",
    "ref_payco": "100000001",
    "reference": "order-1",
    "description": "Nevera",
    "method": "pse",
    "amount": "6000000.00",
    "currency": "COP",
    "customer": {"email": "ana@example.com", "name": "Ana"},
    "idempotency_key": "k-1",
    "request_hash": "h",
    "antifraud": {"decision": "review", "score": 40},
    "pse": PSE_DETAILS,  # what the payer chose; no transfer yet
}


class Store:
    def __init__(self, events: list[EventRecord]) -> None:
        self.events = events

    def load(self, payment_id: str) -> list[EventRecord]:
        return list(self.events)


class Repo:
    """Appends through the real fold."""

    def __init__(self, *kinds: tuple[str, dict[str, Any]]) -> None:
        self.store = Store(
            [
                EventRecord(f"e{i}", kind, i, T0 + timedelta(seconds=i), data)
                for i, (kind, data) in enumerate([(domain.CREATED, CREATED), *kinds], 1)
            ]
        )

    @property
    def state(self) -> PaymentState:
        state = domain.fold(self.store.events)
        assert state is not None
        return state

    def get(self, payment_id: str) -> PaymentState:
        return self.state

    def change(self, payment_id: str, decide: Any, known: Any = None) -> PaymentState:
        for kind, data in decide(self.state) or []:
            version = len(self.store.events) + 1
            record = EventRecord(f"e{version}", kind, version, T0, data)
            self.store.events.append(record)
        return self.state


class Pse:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.opened: list[tuple[dict[str, Any], str]] = []

    def create_transaction(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        self.opened.append((body, idempotency_key))
        return {"id": "pse-1", "redirect_url": "http://127.0.0.1:9001/pay/pse-1"}

    def banks(self) -> dict[str, Any]:
        return {"banks": [{"code": "1007", "name": "BANCOLOMBIA"}]}


def services(repo: Repo, pse: Pse) -> Services:
    no_token = SimpleNamespace(execute=lambda *_: SimpleNamespace(scalar=lambda: None))
    settings = SimpleNamespace(
        default_return_url="http://127.0.0.1:8080/return",
        pse_confirmation_url="http://127.0.0.1:8002/callbacks/pse",
    )
    return cast(
        Services,
        SimpleNamespace(
            repo=repo, pse=pse, settings=settings, sessions=lambda: nullcontext(no_token)
        ),
    )


HELD = (domain.HELD_FOR_REVIEW, {"reason": "antifraud_review"})


def test_approval_opens_the_transfer_and_records_its_page() -> None:
    repo, pse = Repo(HELD), Pse()
    held = repo.state
    assert (held.status, held.pse_bank_code, held.pse_transaction_id) == (Status.HELD, "1007", None)
    after = review.decide_review(services(repo, pse), "p-1", "approve", "known customer")
    [(body, key)] = pse.opened
    assert key == "p-1"  # the payment id: approving again answers the same transfer
    assert (body["reference"], body["amount"], body["bank_code"]) == ("p-1", "6000000.00", "1007")
    assert body["payer_email"] == "ana@example.com" and body["doc_number"] == "1234"
    assert (after.status, after.pse_transaction_id) == (Status.PENDING, "pse-1")
    assert after.pse_redirect_url == "http://127.0.0.1:9001/pay/pse-1"


def test_rejection_opens_nothing() -> None:
    repo, pse = Repo(HELD), Pse()
    after = review.decide_review(services(repo, pse), "p-1", "reject", "stolen identity")
    assert pse.opened == [] and after.pse_transaction_id is None


def test_pse_down_decides_nothing_so_the_operator_can_approve_again() -> None:
    repo = Repo(HELD)
    with pytest.raises(Problem) as down:
        review.decide_review(
            services(repo, Pse(PartnerUnavailable("pse down"))), "p-1", "approve", None
        )
    assert down.value.status == 503
    assert repo.state.review_decision is None
    after = review.decide_review(services(repo, Pse()), "p-1", "approve", None)
    assert after.review_decision == "approve" and after.pse_transaction_id == "pse-1"


def test_a_transfer_pse_refuses_asks_the_operator_to_reject() -> None:
    repo = Repo(HELD)
    refused = PartnerRejected("pse", 422, {"detail": "unknown bank", "errors": []})
    with pytest.raises(Problem) as conflict:
        review.decide_review(services(repo, Pse(refused)), "p-1", "approve", None)
    assert (conflict.value.status, conflict.value.slug) == (409, "pse-refused")
    assert repo.state.review_decision is None


def test_an_unknown_bank_is_refused_when_the_payment_is_created() -> None:
    svc = services(Repo(), Pse())
    pse_transfer.require_known_bank(svc, "1007")
    with pytest.raises(Problem) as refused:
        pse_transfer.require_known_bank(svc, "1999")
    assert refused.value.status == 422
    assert refused.value.errors == [{"field": "body.pse.bank_code", "message": "unknown bank code"}]


def test_a_decision_the_payment_refuses_opens_nothing() -> None:
    repo, pse = Repo(), Pse()  # pending: the SAGA has not held it yet
    with pytest.raises(review.ReviewConflict):
        review.decide_review(services(repo, pse), "p-1", "approve", None)
    assert pse.opened == []
