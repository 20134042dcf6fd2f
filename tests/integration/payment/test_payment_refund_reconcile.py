"""`reconcile-refunds` against the real wallet and bank simulator: a refund request that died
between its steps is finished (the bank refunded it) or undone (it did not).

Each test leaves a refund half-way as a crashed request would: reserved in the wallet, and
refunded at the bank or not, then reconciles only its own payment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from paylab.payment.refund_reconcile import reconcile_refunds
from paylab.payment.wiring import Services

from .conftest import card_body
from .refund_support import Wallet, clean

NOW_AND_BEFORE = timedelta(0)


def half_done(wallet: Wallet, svc: Services, payment_id: str, amount: str, *, bank: bool) -> str:
    """Reserve a refund as the payment service would; refund it at the bank too if `bank`."""
    state = svc.repo.get(payment_id)
    assert state is not None and state.authorization_id
    operation = f"{payment_id}:refund:crashed"
    reserved = wallet.http.post(
        "/internal/refunds",
        json={
            "operation_id": operation,
            "payment_id": payment_id,
            "merchant_id": state.merchant_id,
            "amount": amount,
        },
    )
    assert reserved.status_code == 201, reserved.text
    if bank:
        svc.bank.refund(state.authorization_id, amount, idempotency_key=operation)
    return str(reserved.json()["id"])


def test_a_refund_the_bank_made_is_completed_and_recorded(
    merchant: str, approved: Callable[..., str], wallet: Wallet, svc: Services
) -> None:
    payment_id = approved(card_body(amount="20000.00"))
    refund_id = half_done(wallet, svc, payment_id, "5000.00", bank=True)
    assert wallet.check(merchant)["open_refunds"] == 1

    settled = reconcile_refunds(svc, older_than=NOW_AND_BEFORE, payment_id=payment_id)
    assert [(s.refund_id, s.action) for s in settled] == [(refund_id, "completed")]
    state = svc.repo.get(payment_id)
    assert state is not None
    assert (state.status.value, state.refunded_amount) == ("approved", Decimal("5000.00"))
    assert state.refund_ids == (refund_id,)
    assert reconcile_refunds(svc, older_than=NOW_AND_BEFORE, payment_id=payment_id) == []
    clean(wallet, merchant)


def test_a_refund_the_bank_never_made_is_cancelled_and_the_merchant_keeps_its_money(
    merchant: str, approved: Callable[..., str], wallet: Wallet, svc: Services
) -> None:
    payment_id = approved(card_body(amount="20000.00"))
    before = wallet.balance(merchant)
    refund_id = half_done(wallet, svc, payment_id, "5000.00", bank=False)
    assert wallet.balance(merchant) != before  # the merchant's part is held

    settled = reconcile_refunds(svc, older_than=NOW_AND_BEFORE, payment_id=payment_id)
    assert [(s.refund_id, s.action) for s in settled] == [(refund_id, "cancelled")]
    assert wallet.balance(merchant) == before
    state = svc.repo.get(payment_id)
    assert state is not None and state.refunded_amount == Decimal("0.00")
    clean(wallet, merchant)


def test_a_reservation_younger_than_the_grace_period_is_left_alone(
    merchant: str, approved: Callable[..., str], wallet: Wallet, svc: Services
) -> None:
    payment_id = approved(card_body(amount="20000.00"))
    half_done(wallet, svc, payment_id, "5000.00", bank=False)
    grace = timedelta(minutes=10)
    assert reconcile_refunds(svc, older_than=grace, payment_id=payment_id) == []
    assert wallet.check(merchant)["open_refunds"] == 1
    reconcile_refunds(svc, older_than=NOW_AND_BEFORE, payment_id=payment_id)  # tidy up
    clean(wallet, merchant)
