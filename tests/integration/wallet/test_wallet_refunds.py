"""Refunds: reserve the merchant's part, then complete or cancel; never overdraw, never twice."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from paylab.wallet import ledger, store
from paylab.wallet.operations import WalletError
from paylab.wallet.schemas import RefundCreate
from paylab.wallet.service import WalletService

from .conftest import Merchant, uid
from .test_wallet_concurrency import together

pytestmark = pytest.mark.timeout(120)
CLEARING_CARD = store.system_account(ledger.SystemAccount.CLEARING_CARD, ledger.Currency.COP)
FEES = store.system_account(ledger.SystemAccount.FEES, ledger.Currency.COP)


def captured(
    client: TestClient, merchant: Merchant, method: str, amount: str, payer: str = ""
) -> Any:
    """A payment the SAGA reserved and captured, as the wallet's hold."""
    r = client.post("/internal/holds", json=merchant.hold_request(method, amount, payer or None))
    assert r.status_code == 201, r.text
    hold = r.json()
    r = client.post(f"/internal/holds/{hold['id']}/capture", json={"operation_id": uid("cap")})
    assert r.status_code == 200, r.text
    return r.json()


def reserve(
    client: TestClient, merchant: Merchant, payment_id: str, amount: str, op: str = ""
) -> Any:
    body = {
        "operation_id": op or uid("refund"),
        "payment_id": payment_id,
        "merchant_id": merchant.id,
        "amount": amount,
    }
    return client.post("/internal/refunds", json=body)


def complete(client: TestClient, refund_id: str, reference: str | None = None) -> Any:
    body = {"operation_id": uid("done"), "reference": reference}
    return client.post(f"/internal/refunds/{refund_id}/complete", json=body)


def cancel(client: TestClient, refund_id: str) -> Any:
    body = {"operation_id": uid("undo"), "reason": "bank refused"}
    return client.post(f"/internal/refunds/{refund_id}/cancel", json=body)


def moved(engine: Engine, payment_id: str, account: Any) -> Decimal:
    """What the payment's postings moved on one account, all buckets together."""
    with engine.connect() as conn:
        total = conn.scalar(
            text(
                "SELECT coalesce(sum(e.amount), 0) FROM wallet.entries e "
                "JOIN wallet.postings p ON p.id = e.posting_id "
                "WHERE p.payment_id = :p AND e.account_id = :a"
            ),
            {"p": payment_id, "a": account},
        )
    return Decimal(total)


def test_a_card_refund_puts_every_account_back(
    client: TestClient,
    merchant: Merchant,
    engine: Engine,
    ledger_ok: Callable[[], None],
) -> None:
    hold = captured(client, merchant, "card", "30000.00")
    assert merchant.merchant_balance()["available"] == "28203.00"

    r = reserve(client, merchant, hold["payment_id"], "30000.00")
    assert r.status_code == 201, r.text
    refund = r.json()
    assert (refund["status"], refund["fee_returned"], refund["merchant_part"]) == (
        "reserved",
        "1797.00",
        "28203.00",
    )
    assert refund["target_account_id"] == str(CLEARING_CARD)
    assert merchant.merchant_balance()["available"] == "0.00"
    assert merchant.balance(merchant.account_id)["held"] == "28203.00"
    ledger_ok()

    r = complete(client, refund["id"], reference="rf-123")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["reference"]) == ("refunded", "rf-123")
    assert merchant.balance(merchant.account_id)["held"] == "0.00"
    assert merchant.merchant_balance()["available"] == "0.00"
    # The clearing account got back what it advanced, and the fee went back too.
    assert moved(engine, hold["payment_id"], CLEARING_CARD) == 0
    assert moved(engine, hold["payment_id"], FEES) == 0
    again = complete(client, refund["id"])
    assert again.status_code == 200 and again.json()["resolved_at"] == r.json()["resolved_at"]
    assert cancel(client, refund["id"]).status_code == 409
    ledger_ok()


def test_a_wallet_refund_gives_the_payer_its_money_back(
    client: TestClient, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    payer = merchant.wallet(funded="100000.00")
    hold = captured(client, merchant, "wallet", "40000.00", payer)
    assert merchant.balance(payer)["available"] == "60000.00"
    refund = reserve(client, merchant, hold["payment_id"], "40000.00").json()
    assert refund["target_account_id"] == payer
    assert complete(client, refund["id"]).status_code == 200
    assert (merchant.balance(payer)["available"], merchant.balance(payer)["held"]) == (
        "100000.00",
        "0.00",
    )
    assert merchant.merchant_balance()["available"] == "0.00"
    ledger_ok()


def test_short_of_funds_nothing_moves_and_the_same_operation_succeeds_later(
    client: TestClient, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    hold = captured(client, merchant, "card", "20000.00")
    payout = {
        "operation_id": uid("payout"),
        "merchant_id": merchant.id,
        "amount": "18502.00",  # everything the payment left the merchant
        "currency": "COP",
    }
    assert client.post("/internal/payouts", json=payout).status_code == 201
    before = merchant.balance(merchant.account_id)
    op = uid("refund")

    r = reserve(client, merchant, hold["payment_id"], "20000.00", op)
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/insufficient-funds")
    assert merchant.balance(merchant.account_id) == before

    captured(client, merchant, "card", "30000.00")  # the merchant earns money again
    later = reserve(client, merchant, hold["payment_id"], "20000.00", op)
    assert later.status_code == 201, later.text
    ledger_ok()


def test_one_operation_id_reserves_one_refund(client: TestClient, merchant: Merchant) -> None:
    hold = captured(client, merchant, "card", "20000.00")
    op = uid("refund")
    first = reserve(client, merchant, hold["payment_id"], "5000.00", op)
    second = reserve(client, merchant, hold["payment_id"], "5000.00", op)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    other = reserve(client, merchant, hold["payment_id"], "6000.00", op)
    assert other.status_code == 409 and other.json()["type"].endswith("/idempotency-key-reused")


def test_partial_refunds_never_exceed_the_payment_and_return_the_whole_fee(
    client: TestClient, merchant: Merchant, engine: Engine, ledger_ok: Callable[[], None]
) -> None:
    captured(client, merchant, "card", "50000.00")  # enough available for the refunds
    hold = captured(client, merchant, "card", "20000.00")
    parts = []
    for amount in ("7000.00", "6000.00"):
        r = reserve(client, merchant, hold["payment_id"], amount)
        assert r.status_code == 201, r.text
        parts.append(r.json())
    too_much = reserve(client, merchant, hold["payment_id"], "7000.01")
    assert too_much.status_code == 409
    assert too_much.json()["type"].endswith("/refund-exceeds-payment")
    assert "7000.00 is left" in too_much.json()["detail"]
    cancel(client, parts[1]["id"])  # a cancelled refund frees its amount again
    rest = reserve(client, merchant, hold["payment_id"], "13000.00")
    assert rest.status_code == 201, rest.text
    for refund in (parts[0], rest.json()):
        assert complete(client, refund["id"]).status_code == 200
    assert moved(engine, hold["payment_id"], FEES) == 0  # 2.99% + 900 = 1498.00, all back
    assert moved(engine, hold["payment_id"], CLEARING_CARD) == 0
    ledger_ok()


def test_cancel_gives_the_merchant_its_part_back(
    client: TestClient, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    hold = captured(client, merchant, "card", "20000.00")
    refund = reserve(client, merchant, hold["payment_id"], "20000.00").json()
    r = cancel(client, refund["id"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert r.json()["cancel_reason"] == "bank refused"
    assert merchant.merchant_balance()["available"] == "18502.00"
    assert complete(client, refund["id"]).status_code == 409
    ledger_ok()


def test_only_captured_payments_of_the_merchant_are_refundable(
    client: TestClient, merchant: Merchant, new_merchant: Callable[..., Merchant]
) -> None:
    r = client.post("/internal/holds", json=merchant.hold_request("card", "1000.00"))
    held = r.json()
    refused = reserve(client, merchant, held["payment_id"], "1000.00")
    assert refused.status_code == 409 and refused.json()["type"].endswith("/payment-not-captured")
    assert reserve(client, merchant, uid("no-such-payment"), "1.00").status_code == 404
    hold = captured(client, merchant, "card", "1000.00")
    assert reserve(client, new_merchant(), hold["payment_id"], "1.00").status_code == 404
    bad = reserve(client, merchant, hold["payment_id"], "-1.00")
    assert bad.status_code == 422
    assert client.get(f"/internal/refunds/{uid('x')}").status_code == 422
    assert complete(client, "00000000-0000-0000-0000-000000000000").status_code == 404


def test_concurrent_refunds_of_one_payment_refund_it_once(
    client: TestClient,
    service: WalletService,
    merchant: Merchant,
    ledger_ok: Callable[[], None],
) -> None:
    captured(client, merchant, "card", "100000.00")  # plenty available: only the cap limits
    hold = captured(client, merchant, "card", "20000.00")

    def attempt(_: int) -> int:
        req = RefundCreate(
            operation_id=uid("refund"),
            payment_id=hold["payment_id"],
            merchant_id=merchant.id,
            amount="20000.00",
        )
        try:
            return service.refunds.reserve(req, "c").status
        except WalletError as refused:
            return refused.status

    statuses = together(8, attempt)
    assert sorted(statuses) == [201] + [409] * 7
    ledger_ok()


def test_refunds_are_listed_by_payment_and_by_state_oldest_first(
    client: TestClient, merchant: Merchant
) -> None:
    hold = captured(client, merchant, "card", "20000.00")
    first = reserve(client, merchant, hold["payment_id"], "5000.00").json()
    second = reserve(client, merchant, hold["payment_id"], "3000.00").json()
    assert complete(client, first["id"], "rf-1").status_code == 200

    def listed(**params: str) -> list[tuple[str, str]]:
        r = client.get("/internal/refunds", params=params)
        assert r.status_code == 200, r.text
        return [(x["id"], x["status"]) for x in r.json()["refunds"]]

    payment = hold["payment_id"]
    assert listed(payment_id=payment) == [(first["id"], "refunded"), (second["id"], "reserved")]
    assert listed(payment_id=payment, status="reserved") == [(second["id"], "reserved")]
    before = first["attempted_at"]  # exclusive: the first was not attempted before itself
    assert listed(payment_id=payment, attempted_before=before) == []
    for bad in ({"status": "lost"}, {"limit": "0"}, {"attempted_before": "yesterday"}):
        r = client.get("/internal/refunds", params=bad)
        assert r.status_code == 422 and r.headers["content-type"].startswith(
            "application/problem+json"
        ), r.text


def test_refunds_are_paged_by_a_key_that_settling_earlier_ones_does_not_shift(
    client: TestClient, merchant: Merchant
) -> None:
    hold = captured(client, merchant, "card", "20000.00")
    payment = hold["payment_id"]
    ids = [reserve(client, merchant, payment, "1000.00").json()["id"] for _ in range(3)]

    def page(after: str | None) -> list[str]:
        params = {"payment_id": payment, "status": "reserved", "limit": "1"}
        if after is not None:
            params["after"] = after
        r = client.get("/internal/refunds", params=params)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["refunds"]]

    assert page(None) == ids[:1]
    # The first page's refund is settled before the next page is read (as reconciliation does).
    assert complete(client, ids[0], "rf-1").status_code == 200
    assert page(ids[0]) == ids[1:2]
    assert page(ids[1]) == ids[2:]
    assert page(ids[2]) == []
    for bad in (str(uuid.uuid4()), "not-a-uuid"):
        r = client.get("/internal/refunds", params={"after": bad})
        assert r.status_code == 422, r.text


def test_a_retry_marks_the_refund_attempted_and_a_conditional_cancel_then_waits(
    client: TestClient, merchant: Merchant
) -> None:
    hold = captured(client, merchant, "card", "20000.00")
    op = uid("refund")
    first = reserve(client, merchant, hold["payment_id"], "5000.00", op).json()
    assert first["attempted_at"] == first["created_at"]
    retried = reserve(client, merchant, hold["payment_id"], "5000.00", op).json()
    at = datetime.fromisoformat
    assert at(retried["attempted_at"]) > at(first["attempted_at"])  # it may be at the bank now

    def cancel_if_idle_since(since: str) -> Any:
        body = {"operation_id": uid("undo"), "reason": "x", "if_not_attempted_since": since}
        return client.post(f"/internal/refunds/{first['id']}/cancel", json=body)

    busy = cancel_if_idle_since(first["attempted_at"])
    assert busy.status_code == 409 and busy.json()["type"].endswith("/refund-in-flight"), busy.text
    assert client.get(f"/internal/refunds/{first['id']}").json()["status"] == "reserved"
    later = at(retried["attempted_at"]) + timedelta(microseconds=1)
    idle = cancel_if_idle_since(later.isoformat())
    assert idle.status_code == 200 and idle.json()["status"] == "cancelled", idle.text
    again = reserve(client, merchant, hold["payment_id"], "5000.00", op).json()
    assert at(again["attempted_at"]) == at(retried["attempted_at"])  # resolved: not touched
