"""The public API through the gateway's eyes: ownership, top-ups, statements, bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paylab.core.internal_auth import HEADER, MERCHANT_HEADER

from .conftest import Merchant, uid


def test_a_new_wallet_is_empty_and_its_merchants(client: TestClient, merchant: Merchant) -> None:
    r = client.post(
        "/v1/wallets", json={"currency": "USD", "reference": "cust-42"}, headers=merchant.headers
    )
    assert r.status_code == 201
    wallet = r.json()
    assert (wallet["merchant_id"], wallet["reference"], wallet["kind"]) == (
        merchant.id,
        "cust-42",
        "payer",
    )
    balance = merchant.balance(wallet["id"])
    assert (balance["available"], balance["held"], balance["currency"]) == ("0.00", "0.00", "USD")


def test_another_merchants_wallet_is_404_everywhere(
    client: TestClient, merchant: Merchant, new_merchant: Callable[..., Merchant]
) -> None:
    wallet = merchant.wallet(funded="1000.00")
    intruder = new_merchant().headers
    for response in (
        client.get(f"/v1/wallets/{wallet}", headers=intruder),
        client.get(f"/v1/wallets/{wallet}/statement", headers=intruder),
        client.post(
            f"/internal/wallets/{wallet}/topups",
            json={"amount": "1.00", "currency": "COP"},
            headers={**intruder, "Idempotency-Key": uid("k")},
        ),
    ):
        assert response.status_code == 404
        assert response.json()["detail"] == "No such wallet."
    assert merchant.balance(wallet)["available"] == "1000.00"


def test_system_accounts_are_nobodys_wallet(client: TestClient, merchant: Merchant) -> None:
    from paylab.wallet import store
    from paylab.wallet.ledger import Currency, SystemAccount

    fees = store.system_account(SystemAccount.FEES, Currency.COP)
    assert client.get(f"/v1/wallets/{fees}", headers=merchant.headers).status_code == 404


def test_merchant_balance_is_the_callers_own(
    client: TestClient, new_merchant: Callable[..., Merchant]
) -> None:
    merchant = new_merchant()
    assert merchant.merchant_balance() == {
        "available": "0.00",
        "pending": "0.00",
        "currency": "COP",
    }
    r = client.get("/v1/merchants/me/balance?currency=USD", headers=merchant.headers)
    assert r.status_code == 404
    r = client.get("/v1/merchants/me/balance", headers={MERCHANT_HEADER: uid("stranger")})
    assert r.status_code == 404


def test_merchant_accounts_are_created_once(client: TestClient, merchant: Merchant) -> None:
    r = client.post("/internal/accounts", json={"merchant_id": merchant.id, "currency": "COP"})
    assert r.status_code == 200
    assert r.json()["id"] == merchant.account_id


def test_topup_is_idempotent_per_key(
    client: TestClient, merchant: Merchant, ledger_ok: Callable[[], None]
) -> None:
    wallet = merchant.wallet()
    key = uid("key")
    first = merchant.topup(wallet, "25000.50", key=key)
    assert first["available"] == "25000.50"
    assert merchant.topup(wallet, "25000.5", key=key) == first
    assert merchant.balance(wallet)["available"] == "25000.50"
    r = client.post(
        f"/internal/wallets/{wallet}/topups",
        json={"amount": "1.00", "currency": "COP"},
        headers={**merchant.headers, "Idempotency-Key": key},
    )
    assert r.status_code == 409
    assert r.json()["type"].endswith("/idempotency-key-reused")
    ledger_ok()


def test_topup_in_the_wrong_currency_is_422(client: TestClient, merchant: Merchant) -> None:
    wallet = merchant.wallet()
    r = client.post(
        f"/internal/wallets/{wallet}/topups",
        json={"amount": "1.00", "currency": "USD"},
        headers={**merchant.headers, "Idempotency-Key": uid("k")},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.currency"


def test_statement_pages_through_entries_newest_first(
    client: TestClient, merchant: Merchant
) -> None:
    wallet = merchant.wallet()
    for amount in ("1.00", "2.00", "3.00", "4.00", "5.00"):
        merchant.topup(wallet, amount)
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = client.get(f"/v1/wallets/{wallet}/statement", params=params, headers=merchant.headers)
        assert r.status_code == 200
        seen += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert [e["amount"] for e in seen] == ["5.00", "4.00", "3.00", "2.00", "1.00"]
    assert [e["balance_after"] for e in seen] == ["15.00", "10.00", "6.00", "3.00", "1.00"]
    assert {e["kind"] for e in seen} == {"topup"}


def test_every_route_needs_the_internal_credential(client: TestClient, merchant: Merchant) -> None:
    wallet = merchant.wallet()
    for method, path in (
        ("GET", f"/v1/wallets/{wallet}"),
        ("POST", "/v1/wallets"),
        ("GET", "/v1/merchants/me/balance"),
        ("POST", "/internal/holds"),
        ("GET", "/internal/ledger/check"),
    ):
        for key in ("", "wrong"):
            headers = {**merchant.headers, HEADER: key}
            r = client.request(method, path, json={}, headers=headers)
            assert r.status_code == 401, (method, path, r.text)
    r = client.get(f"/v1/wallets/{wallet}", headers={})  # credential but no merchant
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("amount", "status"),
    [
        (100.0, 422),
        (100, 422),
        ("100.001", 422),
        ("0", 422),
        ("-1.00", 422),
        ("abc", 422),
        ("1000000000.01", 422),  # above the per-operation limit
        ("9999999999999.99", 422),
        (None, 422),
    ],
)
def test_bad_amounts_are_refused_with_field_errors(
    client: TestClient, merchant: Merchant, amount: Any, status: int
) -> None:
    wallet = merchant.wallet()
    r = client.post(
        f"/internal/wallets/{wallet}/topups",
        json={"amount": amount, "currency": "COP"},
        headers={**merchant.headers, "Idempotency-Key": uid("k")},
    )
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"] == "body.amount" for e in r.json()["errors"])
    assert merchant.balance(wallet)["available"] == "0.00"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/internal/holds", {"method": "card", "amount": "1.00", "currency": "EUR"}),
        ("/internal/holds", {"method": "wallet", "amount": "1.00", "currency": "COP"}),
        ("/internal/holds", "not json"),
        ("/internal/holds/not-a-uuid/capture", {"operation_id": "x"}),
        ("/internal/holds/00000000-0000-4000-8000-000000000000/release", {"operation_id": "x"}),
        ("/internal/accounts", {"merchant_id": "", "currency": "COP"}),
        ("/internal/payouts", {"operation_id": "x", "merchant_id": "m", "amount": 5.5}),
        ("/v1/wallets", {"currency": "ARS"}),
    ],
)
def test_bad_input_is_4xx_never_500(
    client: TestClient, merchant: Merchant, path: str, body: Any
) -> None:
    if isinstance(body, dict) and path == "/internal/holds":
        body = {
            "operation_id": uid("op"),
            "payment_id": uid("p"),
            "merchant_id": merchant.id,
        } | body
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    r = client.post(path, headers=merchant.headers, **kwargs)  # type: ignore[arg-type]
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["status"] == r.status_code


def test_statement_cursor_and_limit_are_validated(client: TestClient, merchant: Merchant) -> None:
    wallet = merchant.wallet()
    for params in ({"cursor": "abc"}, {"cursor": "-1"}, {"limit": 0}, {"limit": 1000}):
        r = client.get(f"/v1/wallets/{wallet}/statement", params=params, headers=merchant.headers)
        assert r.status_code == 422, params


def test_account_creation_survives_prepared_statements(client: TestClient) -> None:
    # psycopg prepares a statement after 5 runs; the partial-index upsert must still match.
    for _ in range(12):
        body = {"merchant_id": uid("m"), "currency": "USD"}
        assert client.post("/internal/accounts", json=body).status_code == 201
        assert client.post("/internal/accounts", json=body).status_code == 200
