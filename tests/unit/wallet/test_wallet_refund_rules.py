"""Refund rules: who gives back what, and a full refund undoes the payment exactly."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paylab.wallet import ledger, refund_rules
from paylab.wallet.ledger import Balance, Bucket, Currency, Method

PAYER, MERCHANT, FEES, CLEARING = (uuid.uuid4() for _ in range(4))
COP = Currency.COP


def share(amount: str, *, refunded: str = "0.00", fee_returned: str = "0.00") -> refund_rules.Share:
    return refund_rules.share(
        D(amount),
        captured=D("20000.00"),
        fee=D("1498.00"),
        refunded=D(refunded),
        fee_returned=D(fee_returned),
        return_fee=True,
    )


def test_the_fee_comes_back_pro_rata_and_the_last_refund_returns_the_rest() -> None:
    first = share("7000.00")
    assert (first.fee_returned, first.merchant_part) == (D("524.30"), D("6475.70"))
    last = share("13000.00", refunded="7000.00", fee_returned="524.30")
    assert last.fee_returned == D("973.70")  # exactly what is left, not 973.70 by rounding luck
    assert first.fee_returned + last.fee_returned == D("1498.00")


def test_many_small_refunds_return_the_fee_share_of_their_total() -> None:
    """100 refunds of 50.00 (0.25% of the payment): each one's own share is 3.745, and
    rounding each would return 100 x 3.75 = 375.00 for a share of 374.50."""
    refunded, fee_returned = D("0.00"), D("0.00")
    for _ in range(100):
        part = share("50.00", refunded=str(refunded), fee_returned=str(fee_returned))
        refunded, fee_returned = refunded + part.amount, fee_returned + part.fee_returned
        exact = D("1498.00") * refunded / D("20000.00")
        assert fee_returned == exact.quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert (refunded, fee_returned) == (D("5000.00"), D("374.50"))
    rest = share("15000.00", refunded=str(refunded), fee_returned=str(fee_returned))
    assert fee_returned + rest.fee_returned == D("1498.00")


def test_more_than_is_left_is_refused() -> None:
    with pytest.raises(refund_rules.RefundTooLarge) as refused:
        share("7000.01", refunded="13000.00")
    assert refused.value.remaining == D("7000.00")
    with pytest.raises(ledger.LedgerError):
        share("0.00")


def test_when_the_platform_keeps_its_fee_the_merchant_pays_it_all() -> None:
    kept = refund_rules.share(
        D("20000.00"),
        captured=D("20000.00"),
        fee=D("1498.00"),
        refunded=D("0"),
        fee_returned=D("0"),
        return_fee=False,
    )
    assert (kept.fee_returned, kept.merchant_part) == (D("0.00"), D("20000.00"))


def _capture_then_refund(method: Method, amount: D, fee: D) -> dict[uuid.UUID, Balance]:
    balances = {
        PAYER: Balance(available=D("100000000.00")),
        MERCHANT: Balance(),
        FEES: Balance(system=True),
        CLEARING: Balance(system=True),
    }
    payer = PAYER if method is Method.WALLET else None
    clearing = None if method is Method.WALLET else CLEARING
    for posting in (
        ledger.reserve(method, COP, amount, merchant=MERCHANT, payer=payer, clearing=clearing),
        ledger.capture(method, COP, amount, fee, merchant=MERCHANT, fees=FEES, payer=payer),
    ):
        balances = ledger.apply(balances, posting)
    part = refund_rules.share(
        amount, captured=amount, fee=fee, refunded=D(0), fee_returned=D(0), return_fee=True
    )
    held = refund_rules.reserve(COP, part, merchant=MERCHANT)
    if held is not None:
        balances = ledger.apply(balances, held)
        assert balances[MERCHANT].held == part.merchant_part
    target = PAYER if method is Method.WALLET else CLEARING
    done = refund_rules.complete(COP, part, merchant=MERCHANT, fees=FEES, target=target)
    return ledger.apply(balances, done)


@given(
    method=st.sampled_from(list(Method)),
    cents=st.integers(min_value=1, max_value=10**10),
    fee_rate=st.integers(min_value=0, max_value=100),
)
def test_a_full_refund_puts_every_account_back(method: Method, cents: int, fee_rate: int) -> None:
    amount = D(cents) / 100
    fee = ledger.platform_fee(amount, D(fee_rate) / 1000, D("900.00"))
    after = _capture_then_refund(method, amount, fee)
    start = D("100000000.00")
    assert after[PAYER] == Balance(available=start)
    assert after[MERCHANT] == Balance()
    assert after[FEES].available == 0 and after[CLEARING].available == 0


def test_cancel_mirrors_the_reserve_and_a_zero_merchant_part_moves_nothing() -> None:
    part = refund_rules.Share(D("100.00"), D("40.00"))
    held = refund_rules.reserve(COP, part, merchant=MERCHANT)
    undone = refund_rules.cancel(COP, part, merchant=MERCHANT)
    assert held is not None and undone is not None
    assert [(leg.bucket, leg.amount) for leg in undone.legs] == [
        (Bucket.HELD, D("-60.00")),
        (Bucket.AVAILABLE, D("60.00")),
    ]
    all_fee = refund_rules.Share(D("10.00"), D("10.00"))
    assert refund_rules.reserve(COP, all_fee, merchant=MERCHANT) is None
    assert refund_rules.cancel(COP, all_fee, merchant=MERCHANT) is None
    legs = refund_rules.complete(COP, all_fee, merchant=MERCHANT, fees=FEES, target=PAYER).legs
    assert [leg.account_id for leg in legs] == [FEES, PAYER]


def test_a_reserve_larger_than_available_is_insufficient_funds() -> None:
    held = refund_rules.reserve(COP, refund_rules.Share(D("100.00"), D("0")), merchant=MERCHANT)
    assert held is not None
    with pytest.raises(ledger.InsufficientFunds):
        ledger.apply({MERCHANT: Balance(available=D("99.99"))}, held)
