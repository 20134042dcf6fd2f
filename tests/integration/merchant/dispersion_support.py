"""Dispersion tests' helpers: fund a merchant through the real wallet, run a day, check money.

The money check compares what the bank simulator paid (its journal: every POST /v1/payouts
answer, deduplicated by payout id) with what the wallet ledger moved for the merchant (its
statement: payouts less payout returns), and that no dispersion reference was paid twice.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from paylab.core.internal_auth import HEADER, MERCHANT_HEADER, internal_credential
from simulators.testing import bank_payouts

from .conftest import Registered

WALLET_URL = "http://127.0.0.1:8003"
BANK_URL = "http://127.0.0.1:9002"


def some_day() -> date:
    """A business date of its own, far from the real calendar and from other tests."""
    return date(2031, 1, 1) + timedelta(days=random.randrange(20_000))


def wallet() -> httpx.Client:
    """The running wallet's internal API."""
    return httpx.Client(base_url=WALLET_URL, timeout=30, headers={HEADER: internal_credential()})


def fund(merchant_id: str, amount: str) -> Decimal:
    """A captured card payment of `amount` for the merchant; returns its available balance."""
    with wallet() as w:
        hold = w.post(
            "/internal/holds",
            json={
                "operation_id": f"it-hold-{uuid.uuid4().hex}",
                "payment_id": f"it-pay-{uuid.uuid4().hex}",
                "merchant_id": merchant_id,
                "method": "card",
                "amount": amount,
                "currency": "COP",
            },
        )
        assert hold.status_code == 201, hold.text
        captured = w.post(
            f"/internal/holds/{hold.json()['id']}/capture",
            json={"operation_id": f"it-cap-{uuid.uuid4().hex}"},
        )
        assert captured.status_code == 200, captured.text
    return available(merchant_id)


def available(merchant_id: str) -> Decimal:
    """The merchant's available balance in the wallet."""
    with wallet() as w:
        r = w.get("/v1/merchants/me/balance", headers={MERCHANT_HEADER: merchant_id})
        assert r.status_code == 200, r.text
        return Decimal(r.json()["available"])


def payout_account(merchant: Registered, number: str = "00123456789") -> None:
    """Point the merchant's dispersions at a bank account (suffix 0000: the bank refuses)."""
    r = merchant.send(
        "PUT",
        "/v1/merchants/me/payout-account",
        json={
            "bank_code": "1007",
            "account_type": "savings",
            "account_number": number,
            "holder_name": "Tienda de prueba SAS",
        },
    )
    assert r.status_code == 200, r.text


def ready_merchant(register: Any, amount: str = "103000.00", **form: Any) -> Registered:
    """A registered merchant with a payout account and an available balance."""
    merchant: Registered = register(**form)
    payout_account(merchant)
    fund(merchant.id, amount)
    return merchant


def run(api: httpx.Client, day: date, *merchants: Registered) -> dict[str, Any]:
    """POST /internal/dispersions/run for these merchants only."""
    r = api.post(
        "/internal/dispersions/run",
        json={"business_date": day.isoformat(), "merchant_ids": [m.id for m in merchants]},
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def results(body: dict[str, Any], merchant: Registered) -> list[str]:
    """The run's results for one merchant, in order."""
    return [x["result"] for x in body["results"] if x["merchant_id"] == merchant.id]


def rows(api: httpx.Client, merchant: Registered) -> list[dict[str, Any]]:
    """The merchant's dispersion rows (GET /internal/dispersions)."""
    r = api.get("/internal/dispersions", params={"merchant_id": merchant.id})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def ledger_moved(merchant: Registered) -> Decimal:
    """What the wallet took out of the merchant's account for payouts, less returns."""
    account = merchant.body["merchant"]["wallet_account_id"]
    with wallet() as w:
        r = w.get(
            f"/v1/wallets/{account}/statement",
            params={"limit": 200},
            headers={MERCHANT_HEADER: merchant.id},
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
    kinds = ("payout", "payout_return")
    return -sum((Decimal(i["amount"]) for i in items if i["kind"] in kinds), Decimal(0))


def money_check(api: httpx.Client, merchant: Registered) -> Decimal:
    """Paid out (bank) == moved (ledger); nothing paid twice; the ledger is consistent."""
    mine = rows(api, merchant)
    payouts = bank_payouts(BANK_URL, {f"disp-{r['id']}" for r in mine})
    paid = [p for p in payouts.values() if p["status"] == "paid"]
    paid_refs = [p["reference"] for p in paid]
    assert len(paid_refs) == len(set(paid_refs)), f"a dispersion was paid twice: {paid_refs}"
    total = sum((Decimal(p["amount"]) for p in paid), Decimal(0))
    assert total == ledger_moved(merchant)
    assert total == sum((Decimal(r["amount"]) for r in mine if r["status"] == "paid"), Decimal(0))
    with wallet() as w:
        check = w.get("/internal/ledger/check", params={"merchant_id": merchant.id}).json()
    assert check["entries_sum_zero"] and check["balances_match_entries"], check
    return total
