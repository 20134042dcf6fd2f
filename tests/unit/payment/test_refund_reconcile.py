"""Reconciling refunds a failed request left reserved: what the bank says decides (fakes)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest
from refund_fakes import NOW, Repo, approved

from paylab.payment.domain import PaymentState, Status
from paylab.payment.partners import PartnerRejected, PartnerUnavailable
from paylab.payment.refund_reconcile import reconcile_refunds
from paylab.payment.wiring import Services

OLD = NOW - timedelta(hours=1)
GRACE = timedelta(minutes=10)


class Wallet:
    """The wallet's refunds (of payment p-1 unless given), filtered and paged like its API."""

    def __init__(
        self, *refunds: tuple[str, str, datetime] | tuple[str, str, datetime, str]
    ) -> None:
        self.refunds = [
            {
                "id": f"r-{n}",
                "operation_id": f"{payment}:refund:{n}",
                "payment_id": payment,
                "amount": amount,
                "status": status,
                "created_at": at.isoformat(),
                "attempted_at": at.isoformat(),
                "reference": f"rf-{n}" if status == "refunded" else None,
            }
            for n, (amount, status, at, payment) in enumerate(((*r, "p-1")[:4] for r in refunds), 1)
        ]
        self.calls: list[str] = []
        self.listings = 0
        self.change_on_listing = 0
        self.change: Callable[[], None] = lambda: None

    def list_refunds(
        self,
        *,
        payment_id: str | None = None,
        status: str | None = None,
        attempted_before: datetime | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[dict[str, Any]]:
        self.listings += 1
        if self.listings == self.change_on_listing:
            self.change()  # a live request gets in between two listings
        start = 0 if after is None else [r["id"] for r in self.refunds].index(after) + 1
        return [
            dict(r)
            for r in self.refunds[start:]
            if (payment_id is None or r["payment_id"] == payment_id)
            and (status is None or r["status"] == status)
            and (
                attempted_before is None
                or datetime.fromisoformat(r["attempted_at"]) < attempted_before
            )
        ][:limit]

    def _resolve(self, refund_id: str, status: str, operation_id: str) -> dict[str, Any]:
        [refund] = [r for r in self.refunds if r["id"] == refund_id]
        assert operation_id.startswith(refund["operation_id"] + ":")
        self.calls.append(f"{status} {refund_id}")
        refund["status"] = status
        return dict(refund)

    def cancel_refund(
        self,
        refund_id: str,
        *,
        operation_id: str,
        reason: str,
        if_not_attempted_since: datetime | None = None,
    ) -> dict[str, Any]:
        assert reason.startswith("reconciled: ") and if_not_attempted_since is not None
        [refund] = [r for r in self.refunds if r["id"] == refund_id]
        if datetime.fromisoformat(refund["attempted_at"]) >= if_not_attempted_since:
            problem = {"type": "https://paylab.dev/problems/refund-in-flight", "detail": "live"}
            raise PartnerRejected("wallet", 409, problem)
        return self._resolve(refund_id, "cancelled", operation_id)

    def complete_refund(
        self, refund_id: str, *, operation_id: str, reference: str | None
    ) -> dict[str, Any]:
        return self._resolve(refund_id, "refunded", operation_id)


class Bank:
    def __init__(self, refunded: str | None, error: Exception | None = None) -> None:
        self.refunded = refunded
        self.error = error

    def get_authorization(self, auth_id: str) -> dict[str, Any]:
        if self.error:
            raise self.error
        answer: dict[str, Any] = {"id": auth_id}
        if self.refunded is not None:
            answer["refunded_amount"] = self.refunded
        return answer


def run(state: PaymentState, wallet: Wallet, bank: Bank) -> tuple[list[Any], Repo]:
    repo = Repo(state)
    svc = cast(Services, SimpleNamespace(repo=repo, wallet=wallet, bank=bank))
    return reconcile_refunds(svc, older_than=GRACE, now=NOW), repo


def recorded(state: PaymentState, *refund_ids: str, amount: str) -> PaymentState:
    return dataclasses.replace(state, refunded_amount=Decimal(amount), refund_ids=refund_ids)


def test_a_reservation_the_bank_never_refunded_is_cancelled() -> None:
    wallet = Wallet(("5000.00", "refunded", OLD), ("3000.00", "reserved", OLD))
    state = recorded(approved(), "rf-1", amount="5000.00")
    settled, repo = run(state, wallet, Bank("5000.00"))
    assert [(s.refund_id, s.action) for s in settled] == [("r-2", "cancelled")]
    assert wallet.calls == ["cancelled r-2"] and repo.appended == []


def test_reservations_the_bank_refunded_are_completed_and_recorded() -> None:
    wallet = Wallet(("3000.00", "reserved", OLD), ("2000.00", "reserved", OLD))
    settled, repo = run(approved(), wallet, Bank("5000.00"))
    assert [s.action for s in settled] == ["completed", "completed"]
    assert wallet.calls == ["refunded r-1", "refunded r-2"]
    assert repo.state.refunded_amount == Decimal("5000.00")
    assert repo.state.refund_ids == ("r-1", "r-2")  # no bank id is known: the wallet's
    assert repo.state.status is Status.APPROVED


def test_a_bank_that_refunded_some_of_them_leaves_all_in_doubt() -> None:
    wallet = Wallet(("3000.00", "reserved", OLD), ("2000.00", "reserved", OLD))
    settled, repo = run(approved(), wallet, Bank("3000.00"))
    assert [s.action for s in settled] == ["in-doubt", "in-doubt"]
    assert "check the bank's statement" in settled[0].detail
    assert wallet.calls == [] and repo.appended == []


def test_a_payment_with_a_young_reservation_waits_for_the_next_run() -> None:
    young = NOW - timedelta(seconds=30)  # a live request may be between its steps
    wallet = Wallet(("3000.00", "reserved", OLD), ("2000.00", "reserved", young))
    settled, _ = run(approved(), wallet, Bank("0.00"))
    assert [s.action for s in settled] == ["in-flight", "in-flight"]
    assert wallet.calls == []


def test_only_old_reservations_start_a_run() -> None:
    wallet = Wallet(("2000.00", "reserved", NOW - timedelta(seconds=30)))
    settled, _ = run(approved(), wallet, Bank("0.00"))
    assert settled == [] and wallet.calls == []


@pytest.mark.parametrize("method", ["wallet", "pse"])
def test_without_a_partner_step_a_reservation_moved_nothing_and_is_cancelled(method: str) -> None:
    wallet = Wallet(("3000.00", "reserved", OLD))
    settled, _ = run(approved(method), wallet, Bank("999.00"))
    assert [s.action for s in settled] == ["cancelled"]
    assert wallet.calls == ["cancelled r-1"]


def test_a_completed_refund_never_recorded_is_recorded() -> None:
    wallet = Wallet(("5000.00", "refunded", OLD), ("3000.00", "reserved", OLD))
    settled, repo = run(approved(), wallet, Bank("5000.00"))
    assert [(s.refund_id, s.action) for s in settled] == [("r-1", "recorded"), ("r-2", "cancelled")]
    assert repo.state.refund_ids == ("rf-1",)


def test_the_bank_down_settles_nothing_and_says_so() -> None:
    wallet = Wallet(("3000.00", "reserved", OLD))
    settled, _ = run(approved(), wallet, Bank("0.00", PartnerUnavailable("bank down")))
    assert [s.action for s in settled] == ["failed"]
    assert "next run" in settled[0].detail and wallet.calls == []


def test_a_refund_touched_between_two_listings_is_left_for_the_next_run() -> None:
    # A live retry of r-1 found its reservation again after the first listing: the bank's
    # amount read in between may already count it.
    wallet = Wallet(("3000.00", "reserved", OLD))
    wallet.change_on_listing = 3  # stale list, payment's list, then the check after the bank
    wallet.change = lambda: wallet.refunds[0].update(attempted_at=NOW.isoformat())
    settled, _ = run(approved(), wallet, Bank("0.00"))
    assert [s.action for s in settled] == ["in-flight"] and wallet.calls == []


def test_a_new_refund_between_two_listings_is_left_for_the_next_run() -> None:
    wallet = Wallet(("3000.00", "reserved", OLD))
    wallet.change_on_listing = 3

    def live_refund() -> None:  # a new key's refund, reserved and refunded at the bank
        new = dict(wallet.refunds[0], id="r-9", operation_id="p-1:refund:9", amount="3000.00")
        wallet.refunds.append(new | {"status": "refunded", "attempted_at": NOW.isoformat()})

    wallet.change = live_refund
    settled, repo = run(approved(), wallet, Bank("3000.00"))  # the bank counts r-9, not r-1
    assert [s.action for s in settled] == ["in-flight"]
    assert wallet.calls == [] and repo.appended == []


def test_a_cancel_the_wallet_finds_attempted_since_is_left_for_the_next_run() -> None:
    wallet = Wallet(("3000.00", "reserved", OLD))

    def touched(**_: Any) -> dict[str, Any]:
        wallet.refunds[0]["attempted_at"] = NOW.isoformat()  # under the wallet's lock
        return Wallet.cancel_refund(
            wallet,
            "r-1",
            operation_id="p-1:refund:1:cancel",
            reason="reconciled: x",
            if_not_attempted_since=NOW - GRACE,
        )

    wallet.cancel_refund = lambda refund_id, **kw: touched(**kw)  # type: ignore[method-assign]
    settled, _ = run(approved(), wallet, Bank("0.00"))
    assert [s.action for s in settled] == ["in-flight"]
    assert wallet.refunds[0]["status"] == "reserved"


def test_a_bank_answer_without_a_refunded_amount_settles_nothing() -> None:
    wallet = Wallet(("3000.00", "reserved", OLD))
    settled, _ = run(approved(), wallet, Bank(None))
    assert [s.action for s in settled] == ["failed"]
    assert "no readable refunded amount" in settled[0].detail and wallet.calls == []


def test_a_refund_of_a_payment_the_service_never_had_is_in_doubt() -> None:
    wallet = Wallet(("3000.00", "reserved", OLD))
    repo = Repo(approved())
    repo.get = lambda payment_id: None  # type: ignore[method-assign]
    svc = cast(Services, SimpleNamespace(repo=repo, wallet=wallet, bank=Bank("0.00")))
    settled = reconcile_refunds(svc, older_than=GRACE, now=NOW)
    assert [s.action for s in settled] == ["in-doubt"]
    assert "no such payment" in settled[0].detail and wallet.calls == []


def test_reservations_left_in_doubt_on_one_page_do_not_hide_the_next_pages() -> None:
    """Five payments the service never had (each stays in doubt), read two refunds a page."""
    wallet = Wallet(
        *(("1000.00", "reserved", OLD + timedelta(seconds=n), f"p-{n}") for n in (1, 2, 3, 4)),
        ("500.00", "reserved", OLD + timedelta(seconds=5), "p-2"),  # p-2's second, on page 3
        ("1000.00", "reserved", OLD + timedelta(seconds=6), "p-5"),
        ("1000.00", "reserved", NOW, "p-6"),  # too young for this run
    )
    repo = Repo(approved())
    repo.get = lambda payment_id: None  # type: ignore[method-assign]
    svc = cast(Services, SimpleNamespace(repo=repo, wallet=wallet, bank=Bank("0.00")))
    settled = reconcile_refunds(svc, older_than=GRACE, now=NOW, page=2)
    assert [(s.payment_id, s.refund_id, s.action) for s in settled] == [
        ("p-1", "r-1", "in-doubt"),
        ("p-2", "r-2", "in-doubt"),
        ("p-2", "r-5", "in-doubt"),  # with the rest of p-2, not again on page 3
        ("p-3", "r-3", "in-doubt"),
        ("p-4", "r-4", "in-doubt"),
        ("p-5", "r-6", "in-doubt"),
    ]


def test_a_payment_that_fails_on_one_page_reports_its_refunds_on_the_next_too() -> None:
    wallet = Wallet(("1000.00", "reserved", OLD), ("500.00", "reserved", OLD))
    svc = cast(
        Services,
        SimpleNamespace(
            repo=Repo(approved()),
            wallet=wallet,
            bank=Bank(None, PartnerUnavailable("bank", "down")),
        ),
    )
    settled = reconcile_refunds(svc, older_than=GRACE, now=NOW, page=1)
    assert [(s.refund_id, s.action) for s in settled] == [("r-1", "failed"), ("r-2", "failed")]
    assert wallet.calls == []
