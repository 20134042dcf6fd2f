"""A PSE payment held for review: no transfer at PSE until the SAGA waits for it (fakes)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest

from paylab.core.problems import Problem
from paylab.payment import domain, pse_transfer, review
from paylab.payment.domain import EventRecord, PaymentState, Status
from paylab.payment.partners import PartnerRejected, PartnerUnavailable, QuickCall
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
        self.budgets: list[QuickCall | None] = []

    def create_transaction(
        self, body: dict[str, Any], idempotency_key: str, budget: QuickCall | None = None
    ) -> dict[str, Any]:
        self.budgets.append(budget)
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


APPROVED = (domain.REVIEWED, {"decision": "approve", "reason": "known customer"})


def test_approval_records_the_decision_and_opens_no_transfer() -> None:
    repo, pse = Repo(HELD), Pse()
    held = repo.state
    assert (held.status, held.pse_bank_code, held.pse_transaction_id) == (Status.HELD, "1007", None)
    after = review.decide_review(services(repo, pse), "p-1", "approve", "known customer")
    assert (after.status, after.review_decision) == (Status.PENDING, "approve")
    assert pse.opened == [] and after.pse_transaction_id is None


def test_the_saga_waiting_for_pse_opens_the_transfer_once() -> None:
    repo, pse = Repo(HELD, APPROVED), Pse()
    after = pse_transfer.open_approved(services(repo, pse), repo.state)
    [(body, key)] = pse.opened
    assert key == "p-1"  # the payment id: a retried step answers the same transfer
    # One short try, well inside the step Lambda's 10 s: a slow PSE fails the step (which
    # retries) instead of outliving it.
    assert pse.budgets == [pse_transfer.STEP_BUDGET] and pse_transfer.STEP_BUDGET.attempts == 1
    assert (body["reference"], body["amount"], body["bank_code"]) == ("p-1", "6000000.00", "1007")
    assert body["payer_email"] == "ana@example.com" and body["doc_number"] == "1234"
    assert (after.status, after.pse_transaction_id) == (Status.PENDING, "pse-1")
    assert after.pse_redirect_url == "http://127.0.0.1:9001/pay/pse-1"
    assert [e.type for e in repo.store.events][-1] == domain.TRANSFER_OPENED
    again = pse_transfer.open_approved(services(repo, pse), repo.state)
    assert len(pse.opened) == 1 and again.version == after.version


def test_a_step_racing_another_records_the_transfer_once() -> None:
    repo, pse = Repo(HELD, APPROVED), Pse()
    stale = repo.state
    pse_transfer.open_approved(services(repo, pse), stale)
    after = pse_transfer.open_approved(services(repo, pse), stale)  # read before the first
    assert len(pse.opened) == 2  # PSE answers both with the same transfer (same key)
    assert [e.type for e in repo.store.events].count(domain.TRANSFER_OPENED) == 1
    assert after.pse_transaction_id == "pse-1"


def test_pse_down_records_nothing_so_the_step_can_retry() -> None:
    repo = Repo(HELD, APPROVED)
    with pytest.raises(Problem) as down:
        pse_transfer.open_approved(services(repo, Pse(PartnerUnavailable("pse down"))), repo.state)
    assert down.value.status == 503
    assert repo.state.pse_transaction_id is None
    after = pse_transfer.open_approved(services(repo, Pse()), repo.state)
    assert after.pse_transaction_id == "pse-1"


def test_a_transfer_pse_refuses_is_a_422_that_the_saga_compensates() -> None:
    repo = Repo(HELD, APPROVED)
    refused = PartnerRejected(
        "pse", 422, {"detail": "unknown bank", "errors": [{"field": "body.bank_code"}]}
    )
    with pytest.raises(Problem) as bad:
        pse_transfer.open_approved(services(repo, Pse(refused)), repo.state)
    assert bad.value.status == 422
    assert repo.state.pse_transaction_id is None


@pytest.mark.parametrize(
    "kinds",
    [
        (HELD,),  # undecided
        (HELD, (domain.REVIEWED, {"decision": "reject", "reason": "stolen identity"})),
        (),  # never held: its transfer was opened with the payment
    ],
)
def test_only_an_approved_held_payment_gets_a_transfer(
    kinds: tuple[tuple[str, dict[str, Any]], ...],
) -> None:
    repo, pse = Repo(*kinds), Pse()
    before = repo.state
    assert pse_transfer.open_approved(services(repo, pse), before) == before
    assert pse.opened == []


def test_the_fold_refuses_a_transfer_the_payment_cannot_have() -> None:
    opened = (domain.TRANSFER_OPENED, {"pse": {"transaction_id": "t", "redirect_url": "u"}})
    with pytest.raises(domain.InvalidTransition):
        Repo(HELD, opened).state  # noqa: B018 - folding is the point
    with pytest.raises(domain.InvalidTransition):
        Repo(HELD, APPROVED, opened, opened).state  # noqa: B018


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
    assert pse.opened == [] and repo.state.review_decision is None


@pytest.mark.parametrize("answer", [{"banks": None}, {}, {"banks": "1007"}])
def test_an_unreadable_bank_list_is_a_503_not_a_500(answer: dict[str, Any]) -> None:
    pse = Pse()
    pse.banks = lambda: answer  # type: ignore[method-assign]
    with pytest.raises(Problem) as down:
        pse_transfer.require_known_bank(services(Repo(), pse), "1007")
    assert (down.value.status, down.value.slug) == (503, "pse-unavailable")
