"""Signup through the merchant service against the running auth and wallet; the profile API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import Engine

from paylab.core.internal_auth import MERCHANT_HEADER

from .conftest import Registered, cleanup, signup_form

AUTH_URL, WALLET_URL = "http://127.0.0.1:8001", "http://127.0.0.1:8003"


def login(credentials: dict[str, str]) -> int:
    r = httpx.post(f"{AUTH_URL}/v1/auth/login", json=credentials, timeout=10)
    return r.status_code


def test_signup_returns_keys_that_log_in_and_an_account_in_wallet(
    register: Callable[..., Registered], outbox: Callable[[str], list[dict[str, Any]]]
) -> None:
    merchant = register()
    body = merchant.body
    assert body["merchant"]["status"] == "active"
    assert body["credentials"]["private_key"].startswith("prv_")
    assert login(body["credentials"]) == 200
    keys = merchant.keys
    assert keys["p_cust_id_cliente"].isdigit() and len(keys["p_key"]) == 40
    # The same account wallet shows the merchant's balance from.
    balance = httpx.get(
        f"{WALLET_URL}/v1/merchants/me/balance",
        headers={**merchant.api.headers, MERCHANT_HEADER: merchant.id},
        timeout=10,
    )
    assert balance.status_code == 200, balance.text
    assert balance.json() == {"available": "0.00", "pending": "0.00", "currency": "COP"}
    [event] = outbox(merchant.id)
    assert event["type"] == "MerchantRegistered"
    assert event["destinations"] == ["sns:merchant-events", "sqs:audit-ops"]
    assert event["data"]["public_key"] == body["credentials"]["public_key"]
    assert event["data"]["account_ids"] == {"COP": body["merchant"]["wallet_account_id"]}
    assert "p_key" not in event["data"] and "private_key" not in str(event["data"])


def test_a_retry_with_the_same_key_creates_nothing_twice(
    api: httpx.Client, engine: Engine, outbox: Callable[[str], list[dict[str, Any]]]
) -> None:
    form, key = signup_form(), {"Idempotency-Key": f"it-{uuid.uuid4().hex}"}
    first = api.post("/v1/merchants", json=form, headers=key)
    assert first.status_code == 201, first.text
    merchant_id = first.json()["merchant"]["id"]
    try:
        # The first answer was "lost": the retry gets the same merchant and a fresh pair.
        second = api.post("/v1/merchants", json=form, headers=key)
        assert second.status_code == 200, second.text
        assert second.json()["merchant"]["id"] == merchant_id
        assert (
            second.json()["merchant"]["wallet_account_id"]
            == (first.json()["merchant"]["wallet_account_id"])
        )
        assert login(first.json()["credentials"]) == 401  # revoked, never used
        assert login(second.json()["credentials"]) == 200
        # Those keys are in use now: a third try cannot take the account over.
        third = api.post("/v1/merchants", json=form, headers=key)
        assert third.status_code == 409 and third.json()["type"].endswith("/already-registered")
        assert [e["type"] for e in outbox(merchant_id)] == ["MerchantRegistered"]
        reused = api.post("/v1/merchants", json=signup_form(), headers=key)
        assert reused.status_code == 409
        assert reused.json()["type"].endswith("/idempotency-key-reused")
        same_doc = {"Idempotency-Key": f"it-{uuid.uuid4().hex}"}
        dup = api.post("/v1/merchants", json=form, headers=same_doc)
        assert dup.status_code == 409 and dup.json()["type"].endswith("/merchant-exists")
    finally:
        cleanup(engine, [merchant_id])


def test_signup_refuses_bad_input(api: httpx.Client) -> None:
    key = {"Idempotency-Key": f"it-{uuid.uuid4().hex}"}
    assert api.post("/v1/merchants", json=signup_form()).status_code == 422  # no key
    bad = api.post("/v1/merchants", json=signup_form(email="nope"), headers=key)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    unsafe = api.post(
        "/v1/merchants",
        json=signup_form(confirmation_url="http://169.254.169.254/latest/meta-data"),
        headers=key,
    )
    assert unsafe.status_code == 422
    assert unsafe.json()["errors"][0]["field"] == "body.confirmation_url"
    anonymous = httpx.post(f"{api.base_url}/v1/merchants", json=signup_form(), headers=key)
    assert anonymous.status_code == 401  # only through the gateway


def test_profile_payout_account_webhook_and_signature_keys(
    register: Callable[..., Registered], receiver_url: str
) -> None:
    merchant = register()
    me = merchant.get("/v1/merchants/me").json()
    assert me["id"] == merchant.id and me["payout_account"] is None
    patched = merchant.send("PATCH", "/v1/merchants/me", json={"name": "Tienda Nueva"})
    assert patched.status_code == 200 and patched.json()["name"] == "Tienda Nueva"
    account = {
        "bank_code": "1007",
        "account_type": "savings",
        "account_number": "00123456789",
        "holder_name": "Tienda Nueva SAS",
    }
    put = merchant.send("PUT", "/v1/merchants/me/payout-account", json=account)
    assert put.status_code == 200, put.text
    assert put.json()["account_number_masked"] == "*******6789"
    assert merchant.get("/v1/merchants/me").json()["payout_account"]["bank_code"] == "1007"
    bad = merchant.send(
        "PUT", "/v1/merchants/me/payout-account", json={**account, "bank_code": "x"}
    )
    assert bad.status_code == 422

    url = f"{receiver_url}/confirmation"
    assert merchant.send(
        "PUT", "/v1/merchants/me/webhook", json={"confirmation_url": url}
    ).json() == {"confirmation_url": url}
    for unsafe in ("http://10.0.0.1/c", "ftp://127.0.0.1/c", "http://user:pw@127.0.0.1/c"):
        r = merchant.send("PUT", "/v1/merchants/me/webhook", json={"confirmation_url": unsafe})
        assert r.status_code == 422, unsafe
    assert merchant.get("/v1/merchants/me/webhook").json() == {"confirmation_url": url}

    keys = merchant.get("/v1/merchants/me/signature-keys")
    assert keys.headers["cache-control"] == "no-store"
    assert keys.json()["p_key"] == merchant.keys["p_key"]
    rotated = merchant.send("POST", "/v1/merchants/me/signature-keys").json()
    assert rotated["p_key"] != merchant.keys["p_key"] and rotated["rotated_at"]
    assert rotated["p_cust_id_cliente"] == merchant.keys["p_cust_id_cliente"]


def test_unknown_merchant_is_404(api: httpx.Client) -> None:
    r = api.get("/v1/merchants/me", headers={MERCHANT_HEADER: "no-such-merchant"})
    assert r.status_code == 404
    assert api.get("/v1/merchants/me").status_code == 401  # no merchant header


def test_a_payout_account_change_is_an_event_for_the_merchants_mailbox(
    register: Callable[..., Registered], outbox: Callable[[str], list[dict[str, Any]]]
) -> None:
    merchant = register()
    account = {
        "bank_code": "1007",
        "account_type": "savings",
        "account_number": "00123456789",
        "holder_name": "Tienda Nueva SAS",
    }
    url = "/v1/merchants/me/payout-account"
    for body in (account, account, {**account, "account_number": "00999880001"}):
        assert merchant.send("PUT", url, json=body).status_code == 200
    changes = [e for e in outbox(merchant.id) if e["type"] == "PayoutAccountChanged"]
    # The repeated PUT changed nothing: two events, the second naming the replaced account.
    assert [(e["data"]["account_last4"], e["data"]["previous_account_last4"]) for e in changes] == [
        ("6789", None),
        ("0001", "6789"),
    ]
    assert changes[0]["destinations"] == [
        "sns:merchant-events",
        "sqs:notification-ops",
        "sqs:audit-ops",
    ]
    assert changes[0]["data"]["merchant_email"] == merchant.get("/v1/merchants/me").json()["email"]
    assert "00123456789" not in str(changes)


def test_a_changed_email_is_told_to_the_previous_address_masked_once(
    register: Callable[..., Registered], outbox: Callable[[str], list[dict[str, Any]]]
) -> None:
    merchant = register()
    before = merchant.get("/v1/merchants/me").json()["email"]
    new = f"otra-{uuid.uuid4().hex[:8]}@tienda.co"
    for body in ({"email": new}, {"email": new}, {"name": "Tienda Nueva"}):
        assert merchant.send("PATCH", "/v1/merchants/me", json=body).status_code == 200
    changes = [e for e in outbox(merchant.id) if e["type"] == "MerchantEmailChanged"]
    # The repeat and the name change wrote nothing: one event, to the address replaced.
    assert [(e["data"]["previous_email"], e["data"]["new_email_masked"]) for e in changes] == [
        (before, "ot***@tienda.co")
    ]
    assert changes[0]["destinations"] == [
        "sns:merchant-events",
        "sqs:notification-ops",
        "sqs:audit-ops",
    ]
