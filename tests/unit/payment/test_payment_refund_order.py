"""The refund use case's order of steps, with fakes: money is reserved before the bank moves."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest
from refund_fakes import Repo, approved

from paylab.core.problems import Problem
from paylab.payment import refunds
from paylab.payment.domain import PaymentState, Status
from paylab.payment.partners import PartnerRejected, PartnerUnavailable
from paylab.payment.wiring import Services


class Steps:
    """The wallet and the bank, recording every call in one ordered log."""

    def __init__(self, *, wallet_refusal: str | None = None, bank: Exception | None = None):
        self.log: list[str] = []
        self.wallet_refusal = wallet_refusal
        self.bank_error = bank
        self.refund_status = "reserved"
        self.found_again = False  # the wallet's answer to a retry: reserved by an earlier call
        self.complete_refusal: PartnerRejected | None = None
        self.reserved: list[tuple[str, str]] = []  # (operation id, amount)
        self.bank_refunds: list[tuple[str, str]] = []  # (amount, idempotency key)

    def reserve_refund(self, *, operation_id: str, amount: str, **_: Any) -> dict[str, Any]:
        self.log.append("wallet.reserve")
        if self.wallet_refusal:
            problem = {"type": f"https://paylab.dev/problems/{self.wallet_refusal}", "detail": "x"}
            raise PartnerRejected("wallet", 409, problem)
        self.reserved.append((operation_id, amount))
        refund_id = f"r-{len(self.reserved)}"
        return {
            "id": refund_id,
            "status": self.refund_status,
            "reference": None,
            "amount": amount,
            "found_again": self.found_again,
        }

    def complete_refund(self, refund_id: str, **kw: Any) -> dict[str, Any]:
        self.log.append("wallet.complete")
        if self.complete_refusal:
            raise self.complete_refusal
        amount = self.reserved[int(refund_id[2:]) - 1][1]
        return {
            "id": refund_id,
            "status": "refunded",
            "reference": kw["reference"],
            "amount": amount,
        }

    def cancel_refund(self, refund_id: str, **_: Any) -> dict[str, Any]:
        self.log.append("wallet.cancel")
        return {"id": refund_id, "status": "cancelled"}

    def refund(self, auth_id: str, amount: str, idempotency_key: str) -> dict[str, Any]:
        self.log.append("bank.refund")
        if self.bank_error:
            raise self.bank_error
        self.bank_refunds.append((amount, idempotency_key))
        return {"id": f"rf-{len(self.bank_refunds)}"}


def services(state: PaymentState, steps: Steps) -> tuple[Services, Repo]:
    repo = Repo(state)
    return cast(Services, SimpleNamespace(repo=repo, wallet=steps, bank=steps)), repo


def test_card_reserve_then_bank_then_complete_then_event() -> None:
    steps = Steps()
    svc, repo = services(approved(), steps)
    after = refunds.refund_payment(svc, "m-1", "p-1")
    assert steps.log == ["wallet.reserve", "bank.refund", "wallet.complete"]
    assert after.status is Status.REVERSED
    assert after.refunded_amount == Decimal("20000.00")
    assert repo.appended[0][0][1]["refund_id"] == "rf-1"
    assert steps.reserved == [("p-1:refund", "20000.00")]
    assert steps.bank_refunds == [("20000.00", "p-1:refund")]


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


def test_a_bank_refusal_of_a_retried_refund_keeps_it_reserved_as_in_doubt() -> None:
    # An earlier attempt reserved it and stopped; the bank may have refunded it then and
    # forgotten the key: cancelling would hand the merchant money the payer may have got.
    steps = Steps(bank=PartnerRejected("bank", 409, {"detail": "nothing left to refund"}))
    steps.found_again = True
    svc, repo = services(approved(), steps)
    with pytest.raises(Problem) as doubt:
        refunds.refund_payment(svc, "m-1", "p-1")
    assert (doubt.value.status, doubt.value.slug) == (409, "refund-in-doubt")
    assert "r-1" in doubt.value.detail
    assert steps.log == ["wallet.reserve", "bank.refund"] and repo.appended == []


def test_a_bank_conflict_on_a_first_attempt_is_in_doubt_not_cancelled() -> None:
    # A 409 may be another request under the same key (a double submit) that did refund.
    steps = Steps(bank=PartnerRejected("bank", 409, {"detail": "request in progress"}))
    svc, repo = services(approved(), steps)
    with pytest.raises(Problem) as doubt:
        refunds.refund_payment(svc, "m-1", "p-1")
    assert (doubt.value.status, doubt.value.slug) == (409, "refund-in-doubt")
    assert steps.log == ["wallet.reserve", "bank.refund"] and repo.appended == []


@pytest.mark.parametrize("status", [401, 403])
def test_a_bank_answer_about_us_not_the_refund_keeps_the_reservation(status: int) -> None:
    steps = Steps(bank=PartnerRejected("bank", status, {"detail": "not now"}))
    svc, repo = services(approved(), steps)
    with pytest.raises(Problem) as unavailable:
        refunds.refund_payment(svc, "m-1", "p-1")
    assert unavailable.value.status == 503
    assert steps.log == ["wallet.reserve", "bank.refund"] and repo.appended == []


def test_a_payer_wallet_that_cannot_take_the_refund_cancels_it() -> None:
    steps = Steps()
    limit = {"type": "https://paylab.dev/problems/balance-limit", "detail": "over 5000000.00"}
    steps.complete_refusal = PartnerRejected("wallet", 422, limit)
    svc, repo = services(approved("wallet"), steps)
    with pytest.raises(Problem) as refused:
        refunds.refund_payment(svc, "m-1", "p-1")
    assert (refused.value.status, refused.value.slug) == (409, "refund-refused")
    assert steps.log == ["wallet.reserve", "wallet.complete", "wallet.cancel"]
    assert repo.appended == []


def test_the_rest_after_a_refused_rest_and_a_partial_is_a_new_operation() -> None:
    steps = Steps(bank=PartnerRejected("bank", 422, {"detail": "try later"}))
    svc, _ = services(approved(), steps)
    with pytest.raises(Problem):
        refunds.refund_payment(svc, "m-1", "p-1")  # refused: its reservation is cancelled
    steps.bank_error = None
    refunds.refund_payment(svc, "m-1", "p-1", Decimal("5000.00"), "k1")
    rest = refunds.refund_payment(svc, "m-1", "p-1")
    assert rest.status is Status.REVERSED
    cancelled_rest, _partial, rest_op = (op for op, _ in steps.reserved)
    assert (cancelled_rest, rest_op) == ("p-1:refund", "p-1:refund:after:5000.00")


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


def test_a_partial_refund_without_an_idempotency_key_is_refused_before_any_step() -> None:
    steps = Steps()
    svc, repo = services(approved(), steps)
    with pytest.raises(Problem) as refused:
        refunds.refund_payment(svc, "m-1", "p-1", Decimal("5000.00"))
    assert (refused.value.status, refused.value.slug) == (400, "idempotency-key-required")
    assert steps.log == [] and repo.appended == []


def test_partial_refunds_then_the_rest_reverse_the_payment() -> None:
    steps = Steps()
    svc, _ = services(approved(), steps)
    first = refunds.refund_payment(svc, "m-1", "p-1", Decimal("5000.00"), "k1")
    assert (first.status, first.refunded_amount) == (Status.APPROVED, Decimal("5000.00"))
    second = refunds.refund_payment(svc, "m-1", "p-1", Decimal("2500.50"), "k2")
    assert (second.status, second.refunded_amount) == (Status.APPROVED, Decimal("7500.50"))
    rest = refunds.refund_payment(svc, "m-1", "p-1")
    assert (rest.status, rest.refunded_amount) == (Status.REVERSED, Decimal("20000.00"))
    k1, k2 = (f"p-1:refund:{hashlib.sha256(k).hexdigest()[:32]}" for k in (b"k1", b"k2"))
    rest_op = "p-1:refund:after:7500.50"  # the rest, once per amount already refunded
    assert steps.reserved == [(k1, "5000.00"), (k2, "2500.50"), (rest_op, "12499.50")]
    assert [key for _, key in steps.bank_refunds] == [k1, k2, rest_op]
    assert rest.refund_ids == ("rf-1", "rf-2", "rf-3")


def test_a_repeated_partial_refund_records_nothing_new() -> None:
    steps = Steps()
    svc, repo = services(approved("wallet"), steps)
    refunds.refund_payment(svc, "m-1", "p-1", Decimal("5000.00"), "k1")

    def replayed(*, operation_id: str, amount: str, **_: Any) -> dict[str, Any]:
        return {"id": "r-1", "status": "refunded", "reference": None, "amount": amount}

    steps.reserve_refund = replayed  # type: ignore[method-assign]  # the wallet's replay
    again = refunds.refund_payment(svc, "m-1", "p-1", Decimal("5000.00"), "k1")
    assert again.refunded_amount == Decimal("5000.00") and len(repo.appended) == 1


def test_a_reversed_payment_answers_a_full_refund_and_asks_the_wallet_for_a_partial() -> None:
    steps = Steps()
    svc, repo = services(approved(), steps)
    refunds.refund_payment(svc, "m-1", "p-1")
    assert refunds.refund_payment(svc, "m-1", "p-1").status is Status.REVERSED
    assert steps.log == ["wallet.reserve", "bank.refund", "wallet.complete"]
    steps.wallet_refusal = "refund-exceeds-payment"  # nothing is left to refund
    with pytest.raises(Problem) as refused:
        refunds.refund_payment(svc, "m-1", "p-1", Decimal("1.00"), "k9")
    assert (refused.value.status, refused.value.slug) == (409, "refund-exceeds-payment")
    assert len(repo.appended) == 1


def test_any_key_the_api_accepts_makes_an_operation_id_the_wallet_accepts() -> None:
    steps = Steps()
    svc, _ = services(approved(), steps)
    refunds.refund_payment(svc, "m-1", "p-1", Decimal("1.00"), "#/?" + "~" * 252)
    [(operation, _)] = steps.reserved
    assert re.fullmatch(r"[A-Za-z0-9._:\-]{1,119}", operation), operation  # + ":complete"


class RememberingWallet(Steps):
    """Steps whose wallet finds a reservation again by its operation id, as the real one."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.by_operation: dict[str, dict[str, Any]] = {}

    def reserve_refund(self, *, operation_id: str, amount: str, **kw: Any) -> dict[str, Any]:
        if operation_id in self.by_operation:
            self.log.append("wallet.reserve")
            return self.by_operation[operation_id] | {"found_again": True}
        refund = super().reserve_refund(operation_id=operation_id, amount=amount, **kw)
        self.by_operation[operation_id] = refund
        return refund

    def cancel_refund(self, refund_id: str, **kw: Any) -> dict[str, Any]:
        for refund in self.by_operation.values():
            if refund["id"] == refund_id:
                refund["status"] = "cancelled"
        return super().cancel_refund(refund_id, **kw)


def test_the_rest_after_a_cancelled_attempt_is_attempted_again_under_a_derived_id() -> None:
    steps = RememberingWallet(bank=PartnerRejected("bank", 422, {"detail": "try later"}))
    svc, _ = services(approved(), steps)
    with pytest.raises(Problem) as refused:
        refunds.refund_payment(svc, "m-1", "p-1")
    assert refused.value.slug == "refund-refused"
    steps.bank_error = None
    after = refunds.refund_payment(svc, "m-1", "p-1")
    assert after.status is Status.REVERSED
    assert [op for op, _ in steps.reserved] == ["p-1:refund", "p-1:refund:after-cancel:r-1"]
    again = refunds.refund_payment(svc, "m-1", "p-1")  # reversed: nothing more is asked
    assert again.status is Status.REVERSED and len(steps.reserved) == 2


def test_the_rest_stops_after_its_attempts_are_used_up() -> None:
    steps = RememberingWallet(bank=PartnerRejected("bank", 422, {"detail": "voided"}))
    svc, _ = services(approved(), steps)
    for _ in range(refunds.MAX_REST_ATTEMPTS):
        with pytest.raises(Problem) as refused:
            refunds.refund_payment(svc, "m-1", "p-1")
        assert refused.value.slug == "refund-refused"
    assert len(steps.reserved) == refunds.MAX_REST_ATTEMPTS
    with pytest.raises(Problem) as spent:
        refunds.refund_payment(svc, "m-1", "p-1")
    assert "an earlier attempt was refused" in spent.value.detail
    assert len(steps.reserved) == refunds.MAX_REST_ATTEMPTS  # no new reservation
