"""Helpers for the payment features: merchants, the gateway, payment bodies, the simulators.

Everything here talks to the running stack over loopback (`./paylab up`); nothing sleeps
blindly: waits poll with a deadline and back off (waiting_support.wait_for).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from waiting_support import wait_for

from paylab.core.db import service_engine
from paylab.core.internal_auth import HEADER, MERCHANT_HEADER, internal_credential
from paylab.core.partner_keys import partner_auth
from paylab.devstack.bank_cards import ensure_card_balance as ensure_card_balance
from paylab.payment.schemas import luhn_ok
from paylab.wallet import ledger
from paylab.wallet.settings import WalletSettings

# PAYLAB_QA_<NAME>_URL points a run at development copies of the services (say, this
# checkout's on other ports while the stack runs the committed code); the SAGA's Lambdas
# still call the stack's own services.
GATEWAY = os.environ.get("PAYLAB_QA_GATEWAY_URL", "http://127.0.0.1:8080")
AUTH = os.environ.get("PAYLAB_QA_AUTH_URL", "http://127.0.0.1:8001")
PAYMENT = os.environ.get("PAYLAB_QA_PAYMENT_URL", "http://127.0.0.1:8002")
WALLET = os.environ.get("PAYLAB_QA_WALLET_URL", "http://127.0.0.1:8003")
SIMS = {"pse": "http://127.0.0.1:9001", "bank": "http://127.0.0.1:9002"}
ANTIFRAUD = "http://127.0.0.1:9003"
FINAL = frozenset({"approved", "rejected", "failed", "reversed", "abandoned", "cancelled"})
APPROVED_CARD = "4575623182290326"  # the bank simulator's approving card, shared by every run


def internal_headers(merchant_id: str | None = None) -> dict[str, str]:
    """Headers of a service-to-service call (and of the merchant the gateway vouches for)."""
    headers = {HEADER: internal_credential()}
    if merchant_id:
        headers[MERCHANT_HEADER] = merchant_id
    return headers


def top_up(merchant_id: str, wallet_id: str, amount: str) -> None:
    """Add money to a merchant's payer wallet, as an operator does (the wallet's internal API)."""
    r = httpx.post(
        f"{WALLET}/internal/wallets/{wallet_id}/topups",
        json={"amount": amount, "currency": "COP"},
        headers={**internal_headers(merchant_id), "Idempotency-Key": unique("topup")},
        timeout=10.0,
    )
    assert r.status_code == 201, r.text


def service_rows(service: str, sql: str, **params: Any) -> list[Any]:
    """The rows of one query, read as `service`'s own Postgres role."""
    engine = service_engine(service, pool_size=1)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def unique(prefix: str) -> str:
    """A name no other scenario (or run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------------------- merchants
@dataclass
class Merchant:
    """A merchant with its own keys and wallet account, logged in through the gateway."""

    merchant_id: str
    public_key: str
    private_key: str
    http: httpx.Client

    def pay(self, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        """POST /v1/payments with an Idempotency-Key (a fresh one unless given)."""
        return self.call("POST", "/v1/payments", json=body, key=key or unique("idem"))

    def payment(self, payment_id: str) -> dict[str, Any]:
        """GET /v1/payments/{id}."""
        r = self.call("GET", f"/v1/payments/{payment_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def wait_final(self, payment_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """The payment once its status is final (polled through the gateway)."""

        def probe() -> dict[str, Any] | None:
            got = self.payment(payment_id)
            return got if got["status"] in FINAL else None

        return wait_for(f"payment {payment_id} to end", probe, timeout=timeout, first=0.2)

    def balance(self) -> dict[str, Decimal]:
        """The merchant's available and pending COP balance."""
        r = self.call("GET", "/v1/merchants/me/balance")
        assert r.status_code == 200, r.text
        return {k: Decimal(r.json()[k]) for k in ("available", "pending")}

    def call(
        self, method: str, path: str, *, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One gateway call; a 429 waits for Retry-After (bounded) and tries again."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if key is not None:
            headers["Idempotency-Key"] = key
        for _ in range(5):
            r = self.http.request(method, path, headers=headers, **kwargs)
            if r.status_code != 429:
                return r
            time.sleep(min(float(r.headers.get("Retry-After", "1")), 5.0))
        return r


def register_merchant(prefix: str = "qa") -> Merchant:
    """A fresh merchant: API keys from auth, a COP account in the wallet, a gateway login."""
    merchant_id = unique(prefix)
    with httpx.Client(headers=internal_headers(), timeout=10.0) as internal:
        keys = internal.post(f"{AUTH}/internal/merchants/{merchant_id}/api-keys")
        assert keys.status_code == 201, keys.text
        account = internal.post(
            f"{WALLET}/internal/accounts", json={"merchant_id": merchant_id, "currency": "COP"}
        )
        assert account.status_code in (200, 201), account.text
    pair = keys.json()
    http = gateway_login(pair["public_key"], pair["private_key"])
    return Merchant(merchant_id, pair["public_key"], pair["private_key"], http)


def gateway_login(public_key: str, private_key: str) -> httpx.Client:
    """A gateway client carrying the bearer token a login with these API keys got."""
    login = httpx.post(
        f"{GATEWAY}/v1/auth/login",
        json={"public_key": public_key, "private_key": private_key},
        timeout=10.0,
    )
    assert login.status_code == 200, login.text
    return httpx.Client(
        base_url=GATEWAY,
        headers={"Authorization": f"Bearer {login.json()['bearer_token']}"},
        timeout=20.0,
    )


def platform_fee(amount: Decimal) -> Decimal:
    """The wallet's fee for a COP payment (its own pricing function and defaults)."""
    settings = WalletSettings()
    return ledger.platform_fee(amount, settings.fee_rate, settings.fee_fixed[ledger.Currency.COP])


# ------------------------------------------------------------------------------- payloads
def customer(email: str) -> dict[str, str]:
    """A payer as the public API takes it."""
    return {
        "email": email,
        "name": "Ana Gómez",
        "phone": "+573001234567",
        "doc_type": "CC",
        "doc_number": "1012345678",
    }


def _payment(method: str, amount: str, reference: str, email: str, **means: Any) -> dict[str, Any]:
    """A payment body; its description is unique too (faults match on it)."""
    return {
        "amount": amount,
        "currency": "COP",
        "method": method,
        "reference": reference,
        "description": f"QA {reference}",
        "customer": customer(email),
        **means,
    }


def card_payment(amount: str, number: str, *, reference: str, email: str) -> dict[str, Any]:
    """A card payment body."""
    cvc = "1234" if number.startswith("37") else "123"
    card = {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": cvc}
    return _payment("card", amount, reference, email, card=card)


def pse_payment(amount: str, bank_code: str, *, reference: str, email: str) -> dict[str, Any]:
    """A PSE payment body."""
    pse = {
        "bank_code": bank_code,
        "person_type": "natural",
        "doc_type": "CC",
        "doc_number": "1012345678",
    }
    return _payment("pse", amount, reference, email, pse=pse)


def wallet_payment(amount: str, account_id: str, *, reference: str, email: str) -> dict[str, Any]:
    """A wallet payment body."""
    return _payment("wallet", amount, reference, email, wallet={"account_id": account_id})


# ------------------------------------------------------------------------------- simulators
class Faults:
    """Fault rules added through the simulators' control API, removed on `clear`."""

    def __init__(self) -> None:
        self.added: list[tuple[str, str]] = []

    def add(self, sim: str, rule: dict[str, Any]) -> str:
        r = httpx.post(f"{SIMS[sim]}/_sim/faults", json=rule, timeout=5.0)
        assert r.status_code == 201, r.text
        rule_id = str(r.json()["id"])
        self.added.append((sim, rule_id))
        return rule_id

    def clear(self) -> None:
        for sim, rule_id in reversed(self.added):
            httpx.delete(f"{SIMS[sim]}/_sim/faults/{rule_id}", timeout=5.0)
        self.added.clear()


def journaled_posts(sim: str, path: str, reference: str) -> int:
    """How many POSTs to `path` about `reference` (a payment id) the simulator's journal holds."""
    r = httpx.get(
        f"{SIMS[sim]}/_sim/journal",
        params={"kind": "request", "method": "POST", "path": path, "limit": 500},
        timeout=5.0,
    )
    assert r.status_code == 200, r.text
    return sum(1 for e in r.json()["entries"] if reference in (e.get("request_body") or ""))


def bank_authorizations(reference: str) -> int:
    """How many authorization requests for `reference` (a payment id) the bank journal holds."""
    return journaled_posts("bank", "/v1/authorizations", reference)


def bank_authorizations_of(payment_id: str) -> list[dict[str, Any]]:
    """The bank's authorizations under the payment's id (its reference there), oldest first."""
    r = httpx.get(
        f"{SIMS['bank']}/v1/authorizations",
        params={"reference": payment_id},
        auth=partner_auth("bank"),
        timeout=5.0,
    )
    assert r.status_code == 200, r.text
    return list(r.json()["authorizations"])


def bank_refunds(auth_id: str) -> int:
    """How many refund requests for an authorization the bank journal holds."""
    return journaled_posts("bank", f"/v1/authorizations/{auth_id}/refunds", "")


def new_card_number() -> str:
    """A Luhn-valid Visa number no one else uses: the bank gives it its own default balance."""
    body = "4" + f"{uuid.uuid4().int % 10**14:014d}"
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError("unreachable: one check digit always fits")


def card_balance(number: str) -> Decimal:
    """The COP balance of the card's account at the bank simulator."""
    card = httpx.get(f"{SIMS['bank']}/_sim/cards/{number}", timeout=5.0)
    assert card.status_code == 200, card.text
    return Decimal(card.json()["balance_cop"])


@contextmanager
def blocked_email(email: str) -> Iterator[None]:
    """`email` on antifraud's block list for the duration of the block."""
    auth = partner_auth("antifraud")  # antifraud's API wants our key once configured
    r = httpx.post(f"{ANTIFRAUD}/v1/lists/email", json={"value": email}, timeout=5.0, auth=auth)
    assert r.status_code in (200, 201), r.text
    try:
        yield
    finally:
        httpx.delete(f"{ANTIFRAUD}/v1/lists/email/{email}", timeout=5.0, auth=auth)
