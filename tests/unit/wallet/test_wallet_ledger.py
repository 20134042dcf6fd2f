"""Posting rules: every posting balances, nothing overdraws, fees round half-up to the cent."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylab.wallet import ledger
from paylab.wallet.ledger import Balance, Bucket, Currency, Method

D = Decimal
PAYER, MERCHANT, FEES, CLEARING, WORLD_IN, WORLD_OUT = (uuid.uuid4() for _ in range(6))
SYSTEM = {FEES, CLEARING, WORLD_IN, WORLD_OUT}


def balances(**available: str) -> dict[uuid.UUID, Balance]:
    accounts = {"payer": PAYER, "merchant": MERCHANT}
    out = {a: Balance(system=True) for a in SYSTEM}
    out.update({PAYER: Balance(), MERCHANT: Balance()})
    for name, amount in available.items():
        out[accounts[name]] = Balance(available=D(amount))
    return out


def total(bs: dict[uuid.UUID, Balance]) -> Decimal:
    return sum((b.available + b.held + b.pending for b in bs.values()), D(0))


@pytest.mark.parametrize(
    ("amount", "rate", "fixed", "fee"),
    [
        ("30000.00", "0.0299", "900.00", "1797.00"),  # 897 + 900
        ("100.00", "0.0299", "0.30", "3.29"),  # 2.99 + 0.30
        ("0.50", "0.05", "0.00", "0.03"),  # 0.025: half-up (half-even would give 0.02)
        ("0.30", "0.05", "0.00", "0.02"),  # 0.015 -> 0.02
        ("33.33", "0.0299", "0.00", "1.00"),  # 0.996567 -> 1.00
        ("1000.00", "0.0299", "900.00", "929.90"),
        ("500.00", "0.0299", "900.00", "500.00"),  # never more than the amount
        ("0.01", "0.00", "0.00", "0.00"),
    ],
)
def test_platform_fee_rounds_half_up_to_the_cent(
    amount: str, rate: str, fixed: str, fee: str
) -> None:
    assert ledger.platform_fee(D(amount), D(rate), D(fixed)) == D(fee)


def test_wallet_reserve_moves_available_to_held() -> None:
    posting = ledger.reserve(
        Method.WALLET, Currency.COP, D("700.00"), merchant=MERCHANT, payer=PAYER
    )
    after = ledger.apply(balances(payer="1000.00"), posting)
    assert after[PAYER] == Balance(available=D("300.00"), held=D("700.00"))
    assert after[MERCHANT] == Balance()


@pytest.mark.parametrize("method", [Method.CARD, Method.PSE])
def test_card_and_pse_reserve_show_money_in_flight_as_merchant_pending(method: Method) -> None:
    posting = ledger.reserve(
        method, Currency.COP, D("700.00"), merchant=MERCHANT, clearing=CLEARING
    )
    after = ledger.apply(balances(), posting)
    assert after[MERCHANT].pending == D("700.00")
    assert after[CLEARING].available == D("-700.00")  # the card network owes it to us


def test_wallet_capture_pays_merchant_net_and_platform_the_fee() -> None:
    before = ledger.apply(
        balances(payer="1000.00"),
        ledger.reserve(Method.WALLET, Currency.COP, D("700.00"), merchant=MERCHANT, payer=PAYER),
    )
    posting = ledger.capture(
        Method.WALLET,
        Currency.COP,
        D("700.00"),
        D("21.00"),
        merchant=MERCHANT,
        fees=FEES,
        payer=PAYER,
    )
    after = ledger.apply(before, posting)
    assert after[PAYER] == Balance(available=D("300.00"))
    assert after[MERCHANT].available == D("679.00")
    assert after[FEES].available == D("21.00")
    assert total(after) == total(before)


def test_card_capture_moves_pending_to_available_net_of_fee() -> None:
    before = ledger.apply(
        balances(),
        ledger.reserve(
            Method.CARD, Currency.COP, D("700.00"), merchant=MERCHANT, clearing=CLEARING
        ),
    )
    after = ledger.apply(
        before,
        ledger.capture(
            Method.CARD, Currency.COP, D("700.00"), D("21.00"), merchant=MERCHANT, fees=FEES
        ),
    )
    assert after[MERCHANT] == Balance(available=D("679.00"))
    assert after[FEES].available == D("21.00")


def test_a_fee_equal_to_the_amount_writes_no_zero_entry() -> None:
    posting = ledger.capture(
        Method.CARD, Currency.COP, D("5.00"), D("5.00"), merchant=MERCHANT, fees=FEES
    )
    assert all(leg.amount != 0 for leg in posting.legs)
    assert len(posting.legs) == 2


@pytest.mark.parametrize("method", list(Method))
def test_release_is_the_exact_mirror_of_reserve(method: Method) -> None:
    kwargs = {"merchant": MERCHANT, "payer": PAYER, "clearing": CLEARING}
    held = ledger.reserve(method, Currency.USD, D("12.34"), **kwargs)
    undone = ledger.release(method, Currency.USD, D("12.34"), **kwargs)
    start = balances(payer="20.00")
    assert ledger.apply(ledger.apply(start, held), undone) == start


def test_reserve_beyond_available_is_insufficient_funds() -> None:
    posting = ledger.reserve(
        Method.WALLET, Currency.COP, D("1000.01"), merchant=MERCHANT, payer=PAYER
    )
    with pytest.raises(ledger.InsufficientFunds) as short:
        ledger.apply(balances(payer="1000.00"), posting)
    assert short.value.account_id == PAYER
    assert short.value.bucket is Bucket.AVAILABLE
    assert short.value.needed == D("1000.01")


def test_payout_cannot_overdraw_the_merchant() -> None:
    posting = ledger.payout(Currency.COP, D("10.00"), merchant=MERCHANT, world=WORLD_OUT)
    with pytest.raises(ledger.InsufficientFunds):
        ledger.apply(balances(merchant="9.99"), posting)
    after = ledger.apply(balances(merchant="10.00"), posting)
    assert after[MERCHANT].available == 0
    assert after[WORLD_OUT].available == D("10.00")


def test_topup_comes_from_the_world_which_alone_may_go_negative() -> None:
    after = ledger.apply(
        balances(), ledger.topup(Currency.COP, D("5.00"), wallet=PAYER, world=WORLD_IN)
    )
    assert after[PAYER].available == D("5.00")
    assert after[WORLD_IN].available == D("-5.00")


@pytest.mark.parametrize("amount", ["0.00", "-1.00", "0.001", "1.005"])
def test_postings_refuse_zero_negative_and_sub_cent_amounts(amount: str) -> None:
    with pytest.raises(ledger.LedgerError):
        ledger.topup(Currency.COP, D(amount), wallet=PAYER, world=WORLD_IN)


def test_an_unbalanced_posting_cannot_be_built() -> None:
    with pytest.raises(ledger.LedgerError, match="sum to zero"):
        ledger.Posting(
            ledger.PostingKind.TOPUP,
            Currency.COP,
            (
                ledger.Leg(PAYER, Bucket.AVAILABLE, D("1.00")),
                ledger.Leg(WORLD_IN, Bucket.AVAILABLE, D("-0.99")),
            ),
        )


def test_capture_refuses_a_fee_above_the_amount() -> None:
    with pytest.raises(ledger.LedgerError):
        ledger.capture(
            Method.CARD, Currency.COP, D("1.00"), D("1.01"), merchant=MERCHANT, fees=FEES
        )


def test_wallet_postings_need_the_payer() -> None:
    with pytest.raises(ledger.LedgerError):
        ledger.reserve(Method.WALLET, Currency.COP, D("1.00"), merchant=MERCHANT)


def test_accounts_are_locked_in_one_order() -> None:
    posting = ledger.capture(
        Method.WALLET, Currency.COP, D("9.00"), D("1.00"), merchant=MERCHANT, fees=FEES, payer=PAYER
    )
    assert posting.account_ids() == sorted({PAYER, MERCHANT, FEES})


def test_trail_is_each_entry_running_balance() -> None:
    posting = ledger.reserve(Method.WALLET, Currency.COP, D("7.00"), merchant=MERCHANT, payer=PAYER)
    assert ledger.trail(balances(payer="10.00"), posting) == [D("3.00"), D("7.00")]


@pytest.mark.parametrize(
    ("before", "after", "alert"),
    [
        ("60.00", "40.00", True),
        ("50.00", "49.99", True),
        ("49.00", "10.00", False),
        ("60.00", "50.00", False),
    ],
)
def test_low_balance_alerts_when_available_crosses_below_threshold(
    before: str, after: str, alert: bool
) -> None:
    assert ledger.dropped_below(Balance(D(before)), Balance(D(after)), D("50.00")) is alert


cents = st.integers(min_value=1, max_value=10_000_000).map(lambda c: D(c) / 100)
ops = st.lists(
    st.tuples(st.sampled_from(["topup", "wallet", "card", "payout", "capture", "release"]), cents),
    max_size=60,
)


@given(ops)
def test_any_sequence_of_postings_conserves_money_and_never_overdraws(
    sequence: list[tuple[str, Decimal]],
) -> None:
    bs = balances()
    open_holds: list[tuple[Method, Decimal]] = []
    for op, amount in sequence:
        kwargs = {"merchant": MERCHANT, "payer": PAYER, "clearing": CLEARING}
        if op == "topup":
            posting = ledger.topup(Currency.COP, amount, wallet=PAYER, world=WORLD_IN)
        elif op in ("wallet", "card"):
            posting = ledger.reserve(Method(op), Currency.COP, amount, **kwargs)
        elif op == "payout":
            posting = ledger.payout(Currency.COP, amount, merchant=MERCHANT, world=WORLD_OUT)
        elif open_holds:
            method, held = open_holds.pop()
            if op == "capture":
                fee = ledger.platform_fee(held, D("0.0299"), D("0.30"))
                posting = ledger.capture(
                    method, Currency.COP, held, fee, merchant=MERCHANT, fees=FEES, payer=PAYER
                )
            else:
                posting = ledger.release(method, Currency.COP, held, **kwargs)
        else:
            continue
        try:
            bs = ledger.apply(bs, posting)
        except ledger.InsufficientFunds:
            continue
        if op in ("wallet", "card"):
            open_holds.append((Method(op), amount))
        assert total(bs) == 0
        for account, balance in bs.items():
            if account not in SYSTEM:
                assert min(balance.available, balance.held, balance.pending) >= 0
    assert bs[PAYER].held == sum((a for m, a in open_holds if m is Method.WALLET), D(0))
    assert bs[MERCHANT].pending == sum((a for m, a in open_holds if m is Method.CARD), D(0))
