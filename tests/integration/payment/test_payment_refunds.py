"""Refunds through the bank and the wallet: all or nothing, and a retry finishes the job.

The SAGA here is a Pass machine, so each test plays its steps itself against this checkout's
wallet (served by conftest): reserve, process, capture, outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paylab.payment.wiring import Services

from .conftest import BANK, card_body, outbox_types, wallet_body
from .refund_support import Headers, Wallet, authorization_status, clean


@pytest.fixture
def bank_refund_fault(
    sim_faults: Callable[[str, dict[str, Any]], str],
) -> Callable[[int, int | None], None]:
    """fail(status, next) -> the bank answers `status` to refunds (the next N, or all)."""

    def fail(status: int, times: int | None) -> None:
        rule: dict[str, Any] = {
            "match": {"method": "POST", "path": "/v1/authorizations/*/refunds"},
            "effect": {"type": "error", "status": status},
        }
        if times is not None:
            rule["when"] = {"next": times}
        sim_faults(BANK, rule)

    return fail


def refund(client: TestClient, headers: Headers, merchant: str, payment_id: str) -> Any:
    return client.post(f"/v1/payments/{payment_id}/refund", headers=headers(merchant_id=merchant))


def test_a_card_refund_goes_back_through_the_bank_and_the_wallet(
    client: TestClient,
    headers: Headers,
    merchant: str,
    approved: Callable[..., str],
    wallet: Wallet,
    svc: Services,
) -> None:
    payment_id = approved(card_body(amount="20000.00"))
    assert wallet.balance(merchant) == {"available": "18502.00", "pending": "0.00"}

    r = refund(client, headers, merchant, payment_id)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["cod_respuesta"]) == ("reversed", 6)
    assert wallet.balance(merchant) == {"available": "0.00", "pending": "0.00"}
    assert authorization_status(svc, payment_id) == "refunded"
    again = refund(client, headers, merchant, payment_id)
    assert again.status_code == 200 and again.json()["version"] == r.json()["version"]
    assert "PaymentRefunded" in outbox_types(svc, payment_id)
    state = svc.repo.get(payment_id)
    assert state is not None and state.refund_id and state.refund_id.startswith("rf")
    clean(wallet, merchant)


def test_a_wallet_refund_gives_the_payer_its_balance_back(
    client: TestClient,
    headers: Headers,
    merchant: str,
    approved: Callable[..., str],
    wallet: Wallet,
) -> None:
    wallet.merchant_account(merchant)
    payer = wallet.payer(merchant, "50000.00")
    body = wallet_body(amount="30000.00")
    body["wallet"] = {"account_id": payer}
    payment_id = approved(body)
    assert wallet.wallet_available(merchant, payer) == "20000.00"
    r = refund(client, headers, merchant, payment_id)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reversed"
    assert wallet.wallet_available(merchant, payer) == "50000.00"
    assert wallet.balance(merchant)["available"] == "0.00"
    clean(wallet, merchant)


def test_without_the_money_the_refund_is_a_409_and_nothing_moves(
    client: TestClient,
    headers: Headers,
    merchant: str,
    approved: Callable[..., str],
    wallet: Wallet,
    svc: Services,
) -> None:
    payment_id = approved(card_body(amount="20000.00"))
    payout = {
        "operation_id": uuid.uuid4().hex,
        "merchant_id": merchant,
        "amount": "10000.00",
        "currency": "COP",
    }
    assert wallet.http.post("/internal/payouts", json=payout).status_code == 201
    before = wallet.balance(merchant)

    r = refund(client, headers, merchant, payment_id)
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/insufficient-funds")
    assert "nothing was refunded" in r.json()["detail"]
    assert wallet.balance(merchant) == before
    assert authorization_status(svc, payment_id) == "captured"  # the bank was never asked
    got = client.get(f"/v1/payments/{payment_id}", headers=headers(merchant_id=merchant))
    assert got.json()["status"] == "approved"
    clean(wallet, merchant)


def test_a_bank_outage_half_way_is_finished_by_the_retry(
    client: TestClient,
    headers: Headers,
    merchant: str,
    approved: Callable[..., str],
    wallet: Wallet,
    svc: Services,
    bank_refund_fault: Callable[[int, int | None], None],
) -> None:
    payment_id = approved(card_body(amount="20000.00"))
    bank_refund_fault(503, svc.settings.partner_attempts)
    first = refund(client, headers, merchant, payment_id)
    assert first.status_code == 503, first.text
    # The merchant's part is set aside, not lost and not yet gone.
    assert wallet.balance(merchant)["available"] == "0.00"
    assert wallet.check(merchant)["open_refunds"] == 1

    retry = refund(client, headers, merchant, payment_id)
    assert retry.status_code == 200, retry.text
    assert retry.json()["status"] == "reversed"
    assert authorization_status(svc, payment_id) == "refunded"
    clean(wallet, merchant)


def test_a_bank_refusal_gives_the_merchant_its_money_back(
    client: TestClient,
    headers: Headers,
    merchant: str,
    approved: Callable[..., str],
    wallet: Wallet,
    bank_refund_fault: Callable[[int, int | None], None],
) -> None:
    payment_id = approved(card_body(amount="20000.00"))
    bank_refund_fault(422, None)
    r = refund(client, headers, merchant, payment_id)
    assert r.status_code == 409 and r.json()["type"].endswith("/refund-refused"), r.text
    assert Decimal(wallet.balance(merchant)["available"]) == Decimal("18502.00")
    # Asking again is a new attempt (the first was cancelled); the bank still refuses.
    again = refund(client, headers, merchant, payment_id)
    assert again.status_code == 409 and again.json()["type"].endswith("/refund-refused")
    assert Decimal(wallet.balance(merchant)["available"]) == Decimal("18502.00")
    clean(wallet, merchant)
