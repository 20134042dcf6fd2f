"""What the refund tests share: the wallet's internal API and a payment the played SAGA approved.

The SAGA here is a Pass machine, so each test plays its steps itself against this checkout's
wallet (served by conftest): reserve, process, capture, outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient

from paylab.payment.wiring import Services

Headers = Callable[..., dict[str, str]]


@dataclass
class Wallet:
    """The wallet's internal API, as the SAGA's Lambdas and the merchant's gateway use it."""

    http: httpx.Client

    def merchant_account(self, merchant: str) -> None:
        r = self.http.post("/internal/accounts", json={"merchant_id": merchant, "currency": "COP"})
        assert r.status_code in (200, 201), r.text

    def balance(self, merchant: str) -> dict[str, str]:
        r = self.http.get("/v1/merchants/me/balance", headers={"X-Paylab-Merchant-Id": merchant})
        assert r.status_code == 200, r.text
        return {k: r.json()[k] for k in ("available", "pending")}

    def payer(self, merchant: str, amount: str) -> str:
        headers = {"X-Paylab-Merchant-Id": merchant}
        wallet_id = str(self.http.post("/v1/wallets", json={}, headers=headers).json()["id"])
        r = self.http.post(
            f"/internal/wallets/{wallet_id}/topups",
            json={"amount": amount, "currency": "COP"},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert r.status_code == 201, r.text
        return wallet_id

    def wallet_available(self, merchant: str, wallet_id: str) -> str:
        r = self.http.get(f"/v1/wallets/{wallet_id}", headers={"X-Paylab-Merchant-Id": merchant})
        return str(r.json()["available"])

    def check(self, merchant: str) -> dict[str, Any]:
        r = self.http.get("/internal/ledger/check", params={"merchant_id": merchant})
        assert r.status_code == 200, r.text
        return dict(r.json())


def approver(
    client: TestClient, headers: Headers, internal_headers: dict[str, str], wallet: Wallet
) -> Callable[..., str]:
    """approved(body) -> the id of a payment the (played) SAGA approved and captured."""

    def play(body: dict[str, Any]) -> str:
        h = headers()
        merchant = h["X-Paylab-Merchant-Id"]
        wallet.merchant_account(merchant)
        created = client.post("/v1/payments", json=body, headers=h)
        assert created.status_code == 201, created.text
        payment_id = str(created.json()["id"])
        hold = wallet.http.post(
            "/internal/holds",
            json={
                "operation_id": f"{payment_id}:reserve",
                "payment_id": payment_id,
                "merchant_id": merchant,
                "method": body["method"],
                "amount": body["amount"],
                "currency": "COP",
                "payer_account_id": (body.get("wallet") or {}).get("account_id"),
            },
        )
        assert hold.status_code == 201, hold.text
        processed = client.post(
            f"/internal/payments/{payment_id}/process", json={}, headers=internal_headers
        )
        assert processed.json()["outcome"] == "approved", processed.text
        captured = wallet.http.post(
            f"/internal/holds/{hold.json()['id']}/capture",
            json={"operation_id": f"{payment_id}:capture"},
        )
        assert captured.status_code == 200, captured.text
        outcome = client.post(
            f"/internal/payments/{payment_id}/outcome",
            json={"status": "approved"},
            headers=internal_headers,
        )
        assert outcome.json()["status"] == "approved", outcome.text
        return payment_id

    return play


def authorization_status(svc: Services, payment_id: str) -> str:
    state = svc.repo.get(payment_id)
    assert state is not None and state.authorization_id
    return str(svc.bank.get_authorization(state.authorization_id)["status"])


def clean(wallet: Wallet, merchant: str) -> None:
    check = wallet.check(merchant)
    assert check["entries_sum_zero"] and check["balances_match_entries"], check
    assert check["holds_match_balances"], check
    assert (check["open_holds"], check["open_refunds"]) == (0, 0), check
