"""Dispersion's order and state machine: a crash anywhere, a refusal or a second run never pays
twice and never loses money (wallet debit first, bank second, paid last; refused → returned)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from dispersion_fakes import Crash, World, build, payee

from paylab.merchant.dispersion import Result

DAY = date(2026, 12, 4)
NEXT = date(2026, 12, 5)


def world(balance: str = "100000.00", **kw: object) -> World:
    w = World(balances={"mch_1": Decimal(balance)}, payees=[payee()])
    for name, value in kw.items():
        setattr(w, name, value)
    return w


def results(w: World, day: date = DAY) -> list[Result]:
    return [o.result for o in build(w).run(day)]


def money_check(w: World, start: Decimal) -> None:
    """What the bank paid equals what the wallet kept; the merchant's money is all accounted."""
    kept = sum(
        (amount for op, (_, amount, _) in w.payouts.items() if op not in w.returns), Decimal(0)
    )
    paid = sum((amount for _, amount in w.bank_paid), Decimal(0))
    pending = sum(
        (r.amount for r in w.rows.values() if r.status == "pending" and r.wallet_payout_id),
        Decimal(0),
    )
    assert paid + pending == kept
    assert w.balances["mch_1"] + kept == start
    assert len({key for key, _ in w.bank_paid}) == len(w.bank_paid)  # no key paid twice


def test_pays_the_available_balance_in_order_once() -> None:
    w = world()
    out = build(w).run(DAY)
    assert [o.result for o in out] == [Result.PAID]
    assert out[0].amount == Decimal("100000.00")
    assert w.calls == ["store.claim", "wallet.debit", "store.debited", "bank.pay", "store.paid"]
    assert w.balances["mch_1"] == 0 and len(w.events) == 1
    money_check(w, Decimal("100000.00"))


def test_a_second_run_for_the_same_day_pays_nothing() -> None:
    w = world()
    results(w)
    w.balances["mch_1"] = Decimal("80000.00")  # new sales after midnight wait for the next day
    assert results(w) == [Result.ALREADY_PAID]
    assert len(w.bank_paid) == 1 and len(w.events) == 1


def test_a_run_that_finds_the_lock_held_skips_the_merchant() -> None:
    w = world()
    w.held_locks.add(("mch_1", DAY))
    assert results(w) == [Result.IN_PROGRESS]
    assert w.calls == [] and w.balances["mch_1"] == Decimal("100000.00")


@pytest.mark.parametrize("balance", ["49999.99", "0.00"])
def test_below_the_minimum_nothing_moves(balance: str) -> None:
    w = world(balance)
    assert results(w) == [Result.BELOW_MINIMUM]
    assert w.calls == [] and w.rows == {}


def test_no_payout_account_is_reported_without_touching_anything() -> None:
    w = world(payees=[payee(account=None)])
    assert results(w) == [Result.NO_PAYOUT_ACCOUNT]
    assert w.calls == []


def test_a_bank_refusal_gives_the_money_back_and_a_later_run_pays() -> None:
    w = world(bank_next=["rejected"])
    assert results(w) == [Result.REJECTED]
    assert w.balances["mch_1"] == Decimal("100000.00")  # balance intact
    assert w.calls[-2:] == ["wallet.give_back", "store.rejected"]
    money_check(w, Decimal("100000.00"))
    assert results(w) == [Result.PAID]  # the same day again: attempt 2, new ids
    row = w.rows[("mch_1", DAY)]
    assert row.attempt == 2 and row.status == "paid"
    assert len(w.bank_paid) == 1 and w.bank_paid[0][0].endswith(":2")
    money_check(w, Decimal("100000.00"))


def test_the_next_day_pays_what_a_refused_day_gave_back() -> None:
    w = world(bank_next=["rejected"])
    results(w)
    assert results(w, NEXT) == [Result.PAID]
    assert w.rows[("mch_1", DAY)].status == "rejected"
    assert w.rows[("mch_1", NEXT)].amount == Decimal("100000.00")
    money_check(w, Decimal("100000.00"))


@pytest.mark.parametrize(
    "crash", ["store.claim", "wallet.debit", "store.debited", "bank.pay", "store.paid"]
)
def test_a_crash_after_any_step_is_resumed_with_the_same_ids(crash: str) -> None:
    w = world(crash_at={crash})
    with pytest.raises(Crash):
        build(w).run(DAY)
    # The next night (another business date) first resumes the pending row of DAY.
    out = build(w).run(NEXT)
    resumed = [o.result for o in out if o.business_date == DAY]
    # Paid was committed before the crash: nothing is left to resume.
    assert resumed == ([] if crash == "store.paid" else [Result.PAID])
    assert w.rows[("mch_1", DAY)].status == "paid"
    assert len(w.payouts) == 1 and len(w.bank_paid) == 1 and len(w.events) == 1
    money_check(w, Decimal("100000.00"))


def test_an_unknown_bank_outcome_keeps_the_money_out_and_retries_the_same_key() -> None:
    w = world(bank_next=["down"])
    assert results(w) == [Result.RETRY]
    assert w.balances["mch_1"] == 0  # debited: the bank may have paid
    assert w.rows[("mch_1", DAY)].status == "pending"
    assert results(w) == [Result.PAID]
    assert len(w.payouts) == 1 and len(w.bank_paid) == 1
    money_check(w, Decimal("100000.00"))


def test_a_bank_that_settles_later_is_polled_by_the_next_run() -> None:
    w = world(bank_next=["pending"], bank_status_next=["paid"])
    assert results(w) == [Result.IN_TRANSIT]
    assert w.rows[("mch_1", DAY)].bank_status == "pending"
    out = build(w).run(NEXT)
    assert (out[0].business_date, out[0].result) == (DAY, Result.PAID)
    assert "bank.status" in w.calls and len(w.bank_paid) == 1


def test_a_wallet_that_refuses_the_debit_moves_nothing() -> None:
    w = world()
    w.refused_ops = set()
    wallet_balance = w.balances["mch_1"]

    # A refund took money between the balance read and the debit.
    real_available = build(w).wallet.available

    def available(merchant_id: str, currency: str) -> Decimal:
        value = real_available(merchant_id, currency)
        w.balances[merchant_id] = Decimal("10.00")
        return value

    dispersions = build(w)
    dispersions.wallet.available = available  # type: ignore[method-assign]
    assert [o.result for o in dispersions.run(DAY)] == [Result.REJECTED]
    assert w.bank_paid == [] and w.payouts == {} and wallet_balance > 0
    assert w.rows[("mch_1", DAY)].status == "rejected"


def test_a_wallet_outage_is_a_retry_not_an_error() -> None:
    w = world(wallet_down=True)
    assert results(w) == [Result.RETRY]
    assert w.rows == {} and w.bank_paid == []


def test_a_failed_return_keeps_the_row_pending_and_the_next_run_returns_once() -> None:
    w = world(bank_next=["rejected"], crash_at={"wallet.give_back"})
    with pytest.raises(Crash):
        build(w).run(DAY)
    assert w.rows[("mch_1", DAY)].status == "pending"
    assert results(w) == [Result.REJECTED]  # the bank replays its refusal, the wallet its return
    assert len(w.returns) == 1 and w.balances["mch_1"] == Decimal("100000.00")
    money_check(w, Decimal("100000.00"))


def test_merchants_are_independent() -> None:
    w = World(
        balances={"mch_1": Decimal("60000.00"), "mch_2": Decimal("70000.00")},
        payees=[payee("mch_1"), payee("mch_2")],
        bank_next=["rejected", "paid"],
    )
    assert results(w) == [Result.REJECTED, Result.PAID]
    assert w.balances == {"mch_1": Decimal("60000.00"), "mch_2": Decimal("0.00")}


def test_a_wallet_refusal_other_than_funds_rejects_that_merchant_and_pays_the_others() -> None:
    w = World(
        balances={"mch_1": Decimal("60000.00"), "mch_2": Decimal("70000.00")},
        payees=[payee("mch_1"), payee("mch_2")],
        wallet_refuses={"mch_1"},
    )
    out = build(w).run(DAY)
    assert [(o.merchant_id, o.result) for o in out] == [
        ("mch_1", Result.REJECTED),
        ("mch_2", Result.PAID),
    ]
    assert "must be at most" in (out[0].detail or "")
    assert w.balances == {"mch_1": Decimal("60000.00"), "mch_2": Decimal("0.00")}
    assert w.rows[("mch_1", DAY)].status == "rejected"
