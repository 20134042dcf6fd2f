"""Merchant fixtures: the service on a dev port (8190) against the running auth and wallet,
and the merchant-side receiver on 9105 as the merchants' confirmation endpoint."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import service_engine, session_factory
from paylab.core.internal_auth import HEADER, MERCHANT_HEADER, internal_credential
from paylab.merchant.app import create
from paylab.merchant.schemas import nit_check_digit
from paylab.merchant.settings import MerchantSettings, UrlPolicy
from simulators.merchant import create_app as create_receiver
from simulators.testing import serve

from ..resources import delete_api_keys

SERVICE_PORT, RECEIVER_PORT = 8190, 9105
# Fast retries so a failing endpoint exhausts its attempts within a test.
SETTINGS = MerchantSettings(
    webhook_url_policy=UrlPolicy.LOOPBACK,
    webhook_max_attempts=3,
    webhook_backoff_base_s=0.1,
    webhook_backoff_max_s=0.5,
    webhook_timeout_s=2.0,
    delivery_poll_s=0.1,
    signups_per_ip_per_hour=10_000,
    redis_key_prefix=f"paylab:it:{uuid.uuid4().hex[:8]}:merchant:",
    # The stack's own merchant service (6 attempts from 5 s) must not claim these deliveries.
    delivery_lane=f"it-{uuid.uuid4().hex[:8]}",
)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    engine = service_engine("merchant", pool_size=5)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture(scope="session")
def service_url(engine: Engine) -> Iterator[str]:
    with serve(create(engine=engine, settings=SETTINGS), SERVICE_PORT) as url:
        yield url


@pytest.fixture(scope="session")
def receiver_url() -> Iterator[str]:
    with serve(create_receiver(), RECEIVER_PORT) as url:
        yield url


@pytest.fixture
def receiver(receiver_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=receiver_url, timeout=10) as client:
        yield client
        client.delete("/_sim/faults")


@pytest.fixture
def api(service_url: str) -> Iterator[httpx.Client]:
    """The merchant service as the gateway calls it (internal credential)."""
    with httpx.Client(
        base_url=service_url, timeout=30, headers={HEADER: internal_credential()}
    ) as client:
        yield client


def signup_form(**overrides: Any) -> dict[str, Any]:
    """A unique, valid signup form (a fresh NIT each time)."""
    digits = str(900_000_000 + uuid.uuid4().int % 99_999_999)
    form = {
        "name": "Tienda de prueba",
        "email": "pagos@tienda.test",
        "phone": "+573001234567",
        "doc_type": "NIT",
        "doc_number": f"{digits}-{nit_check_digit(digits)}",
    }
    return form | overrides


@dataclass
class Registered:
    """A merchant signed up through the service, with what signup returned."""

    body: dict[str, Any]
    api: httpx.Client

    @property
    def id(self) -> str:
        return str(self.body["merchant"]["id"])

    @property
    def headers(self) -> dict[str, str]:
        return {MERCHANT_HEADER: self.id}

    @property
    def keys(self) -> dict[str, str]:
        return dict(self.body["signature_keys"])

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.api.get(path, headers=self.headers, **kwargs)

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.api.request(method, path, headers=self.headers, **kwargs)


@pytest.fixture
def register(api: httpx.Client, engine: Engine) -> Iterator[Callable[..., Registered]]:
    """register(**form) -> a new merchant; its rows and API keys are deleted afterwards."""
    created: list[str] = []

    def make(**overrides: Any) -> Registered:
        r = api.post(
            "/v1/merchants",
            json=signup_form(**overrides),
            headers={"Idempotency-Key": f"it-{uuid.uuid4().hex}"},
        )
        assert r.status_code == 201, r.text
        merchant = Registered(r.json(), api)
        created.append(merchant.id)
        return merchant

    yield make
    cleanup(engine, created)


def cleanup(engine: Engine, merchant_ids: list[str]) -> None:
    """Delete test merchants here and their keys in auth (outbox rows stay: they are sent)."""
    if not merchant_ids:
        return
    with engine.begin() as conn:
        params = {"ids": merchant_ids}
        conn.execute(
            text(
                "DELETE FROM merchant.webhook_attempts WHERE delivery_id IN (SELECT id FROM"
                " merchant.webhook_deliveries WHERE merchant_id = ANY(:ids))"
            ),
            params,
        )
        for table in ("webhook_deliveries", "payout_accounts", "dispersions"):
            conn.execute(
                text(f"DELETE FROM merchant.{table} WHERE merchant_id = ANY(:ids)"), params
            )
        conn.execute(text("DELETE FROM merchant.merchants WHERE id = ANY(:ids)"), params)
    delete_api_keys(merchant_ids)


@pytest.fixture
def outbox(engine: Engine) -> Callable[[str], list[dict[str, Any]]]:
    """outbox(aggregate_id) -> its events, oldest first."""

    def read(aggregate_id: str) -> list[dict[str, Any]]:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT payload, destinations FROM merchant.outbox"
                    " WHERE aggregate_id = :a ORDER BY seq"
                ),
                {"a": aggregate_id},
            ).all()
        return [{**json.loads(json.dumps(r.payload)), "destinations": r.destinations} for r in rows]

    return read
