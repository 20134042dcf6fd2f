"""Wallet fixtures: the app on the running stack's Postgres, and factories with unique ids."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from paylab.core.db import service_engine
from paylab.core.internal_auth import HEADER, MERCHANT_HEADER, internal_credential
from paylab.wallet.app import create
from paylab.wallet.ledger import Currency
from paylab.wallet.service import WalletService
from paylab.wallet.settings import WalletSettings

from ..internal_caller import as_internal_caller

SETTINGS = WalletSettings(
    fee_rate=Decimal("0.0299"),
    fee_fixed={Currency.COP: Decimal("900.00"), Currency.USD: Decimal("0.30")},
    low_balance_threshold={Currency.COP: Decimal("50000.00"), Currency.USD: Decimal("20.00")},
)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    # Room for the concurrency tests' threads, each holding a connection.
    engine = service_engine("wallet", pool_size=40)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def service(engine: Engine) -> WalletService:
    return WalletService(engine, SETTINGS)


@pytest.fixture
def internal_headers() -> dict[str, str]:
    """The credential as it is now (a test may have rotated it since the session began)."""
    return {HEADER: internal_credential()}


@pytest.fixture(scope="session")
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create(engine=engine, settings=SETTINGS)) as test_client:
        yield as_internal_caller(test_client)


@dataclass
class Merchant:
    """A merchant with a COP account, and helpers that act as the gateway does for it."""

    id: str
    account_id: str
    client: TestClient

    @property
    def headers(self) -> dict[str, str]:
        return {MERCHANT_HEADER: self.id}

    def wallet(self, funded: str | None = None, currency: str = "COP") -> str:
        r = self.client.post("/v1/wallets", json={"currency": currency}, headers=self.headers)
        assert r.status_code == 201, r.text
        wallet_id = str(r.json()["id"])
        if funded:
            self.topup(wallet_id, funded, currency=currency)
        return wallet_id

    def topup(self, wallet_id: str, amount: str, *, currency: str = "COP", key: str = "") -> Any:
        r = self.client.post(
            f"/internal/wallets/{wallet_id}/topups",
            json={"amount": amount, "currency": currency},
            headers={**self.headers, "Idempotency-Key": key or uid("topup")},
        )
        assert r.status_code == 201, r.text
        return r.json()

    def balance(self, wallet_id: str) -> dict[str, Any]:
        r = self.client.get(f"/v1/wallets/{wallet_id}", headers=self.headers)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def merchant_balance(self, currency: str = "COP") -> dict[str, Any]:
        r = self.client.get(f"/v1/merchants/me/balance?currency={currency}", headers=self.headers)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def hold_request(self, method: str, amount: str, payer: str | None = None) -> dict[str, Any]:
        body = {
            "operation_id": uid("reserve"),
            "payment_id": uid("pay"),
            "merchant_id": self.id,
            "method": method,
            "amount": amount,
            "currency": "COP",
        }
        if payer:
            body["payer_account_id"] = payer
        return body


@pytest.fixture
def new_merchant(client: TestClient) -> Callable[..., Merchant]:
    def make(currency: str = "COP") -> Merchant:
        merchant_id = uid("merchant")
        r = client.post(
            "/internal/accounts", json={"merchant_id": merchant_id, "currency": currency}
        )
        assert r.status_code == 201, r.text
        return Merchant(merchant_id, str(r.json()["id"]), client)

    return make


@pytest.fixture
def merchant(new_merchant: Callable[..., Merchant]) -> Merchant:
    return new_merchant()


@pytest.fixture
def outbox(engine: Engine) -> Callable[[str], list[dict[str, Any]]]:
    """outbox(subject_id) -> the events queued for it, oldest first (payload + destinations)."""

    def read(subject_id: str) -> list[dict[str, Any]]:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT payload, destinations FROM wallet.outbox WHERE aggregate_id = :s "
                    "ORDER BY created_at, event_type"
                ),
                {"s": subject_id},
            ).all()
        return [{**json.loads(json.dumps(r.payload)), "destinations": r.destinations} for r in rows]

    return read


@pytest.fixture
def ledger_ok(client: TestClient) -> Callable[[], None]:
    """Assert the whole ledger's invariants (run at the end of money-moving tests)."""

    def check() -> None:
        r = client.get("/internal/ledger/check")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["entries_sum_zero"], body
        assert body["balances_match_entries"], body
        assert body["holds_match_balances"], body

    return check
