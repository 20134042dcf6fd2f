"""The payment service on the running stack: real Postgres, Redis, DynamoDB, simulators.

Step Functions: a throwaway Pass state machine stands in for the lead's SAGA, so these tests
need nothing but the stack; the service listens on an ephemeral port too, so the real PSE
simulator's signed confirmations reach it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import text

from paylab.core.db import service_engine
from paylab.core.internal_auth import internal_credential
from paylab.core.secrets import SecretReader
from paylab.core.stack_outputs import output
from paylab.payment.app import create
from paylab.payment.settings import PaymentSettings
from paylab.payment.wiring import Services, build
from paylab.wallet.app import create as create_wallet

from ..resources import AwsClients, ignore_missing, unique_name
from ..waiting import wait_until
from .refund_support import Wallet, approver

APPROVED_CARD = "4575623182290326"
REJECTED_CARD = "4151611527583283"
FAILED_CARD = "5170394490379427"
BANK = "http://127.0.0.1:9002"
PSE = "http://127.0.0.1:9001"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def saga_arn(aws: AwsClients, states_role: str) -> Iterator[str]:
    """A one-state machine in place of payment-saga: starts are real, nothing else happens."""
    definition = {"StartAt": "Started", "States": {"Started": {"Type": "Pass", "End": True}}}
    arn = str(
        aws.stepfunctions.create_state_machine(
            name=unique_name("payment-saga"), definition=json.dumps(definition), roleArn=states_role
        )["stateMachineArn"]
    )
    yield arn
    ignore_missing(aws.stepfunctions.delete_state_machine, stateMachineArn=arn)


@contextmanager
def _serving(app: Any, port: int, what: str) -> Iterator[None]:
    """`app` served by uvicorn in a thread on `port` until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=15, description=what)
    yield
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def wallet_url() -> Iterator[str]:
    """This checkout's wallet on an ephemeral port (refunds call it), on the stack's Postgres."""
    engine = service_engine("wallet", pool_size=5)
    port = _free_port()
    with _serving(create_wallet(engine=engine), port, "the wallet test server"):
        yield f"http://127.0.0.1:{port}"
    engine.dispose()


@pytest.fixture(scope="session")
def payment_settings(saga_arn: str, wallet_url: str) -> PaymentSettings:
    return PaymentSettings(
        saga_state_machine_arn=saga_arn,
        public_base_url=f"http://127.0.0.1:{_free_port()}",
        wallet_url=wallet_url,
        idempotency_wait_s=20,
    )


@pytest.fixture(scope="session")
def svc(payment_settings: PaymentSettings) -> Services:
    return build(payment_settings)


@pytest.fixture(scope="session")
def payment_app(payment_settings: PaymentSettings, svc: Services) -> Iterator[Any]:
    """The app, also served on the callback port (PSE's confirmations land there)."""
    app = create(payment_settings, services_override=svc)
    port = int(payment_settings.public_base_url.rsplit(":", 1)[1])
    with _serving(app, port, "the payment test server"):
        yield app


@pytest.fixture(scope="session")
def client(payment_app: Any) -> TestClient:
    return TestClient(payment_app, raise_server_exceptions=False)


@pytest.fixture
def internal_headers() -> dict[str, str]:
    """The credential as it is now (a test may have rotated it since the session began)."""
    return {"X-Paylab-Internal-Key": internal_credential()}


@pytest.fixture
def merchant() -> str:
    return unique_name("merchant")


@pytest.fixture
def headers(internal_headers: dict[str, str], merchant: str) -> Callable[..., dict[str, str]]:
    """headers(key=None, merchant=None) -> a merchant's request headers with a fresh key."""

    def make(key: str | None = None, merchant_id: str | None = None) -> dict[str, str]:
        return {
            **internal_headers,
            "X-Paylab-Merchant-Id": merchant_id or merchant,
            "Idempotency-Key": key or uuid.uuid4().hex,
        }

    return make


def email() -> str:
    """A fresh payer e-mail, so antifraud's per-e-mail velocity never adds up across tests."""
    return f"payer-{uuid.uuid4().hex[:12]}@example.com"


def card_body(number: str = APPROVED_CARD, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": "1500.00",
        "currency": "COP",
        "method": "card",
        "reference": f"order-{uuid.uuid4().hex[:8]}",
        "description": "Pedido de prueba",
        "customer": {"email": email(), "name": "Ana Gómez"},
        "card": {
            "number": number,
            "exp_month": 12,
            "exp_year": 2030,
            "cvc": "1234" if number.startswith("37") else "123",
        },
    }
    body.update(overrides)
    return body


def pse_body(bank_code: str = "1007", **overrides: Any) -> dict[str, Any]:
    body = card_body(method="pse", card=None, **overrides)
    body.pop("card")
    body["pse"] = {
        "bank_code": bank_code,
        "person_type": "natural",
        "doc_type": "CC",
        "doc_number": "1020304050",
    }
    body["return_url"] = "http://127.0.0.1:3000/return"
    return body


def wallet_body(**overrides: Any) -> dict[str, Any]:
    body = card_body(method="wallet", card=None, **overrides)
    body.pop("card")
    body["wallet"] = {"account_id": str(uuid.uuid4())}
    return body


def db_rows(svc: Services, sql: str, **params: Any) -> list[dict[str, Any]]:
    with svc.sessions() as session:
        return [dict(r) for r in session.execute(text(sql), params).mappings()]


def outbox_types(svc: Services, payment_id: str) -> list[str]:
    rows = db_rows(
        svc,
        "SELECT event_type FROM payment.outbox WHERE aggregate_id = :id ORDER BY created_at, "
        "event_type",
        id=payment_id,
    )
    return [r["event_type"] for r in rows]


def signed(data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A confirmation signed like PSE: with the stack's PSE callback secret."""
    secret = SecretReader().get_json(output("PseCallbackSecretArn"))["callback_secret"]
    raw = json.dumps({"event_id": f"evt_{uuid.uuid4().hex[:8]}", "event": "x", "data": data})
    digest = hmac.new(str(secret).encode(), raw.encode(), hashlib.sha256).hexdigest()
    return raw.encode(), {"X-Sim-Signature": f"sha256={digest}", "content-type": "application/json"}


def create_payment(client: TestClient, headers: Callable[..., dict[str, str]], body: Any) -> str:
    """Create a payment through the app; its id."""
    response = client.post("/v1/payments", json=body, headers=headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def sim_faults() -> Iterator[Callable[[str, dict[str, Any]], str]]:
    """add(simulator_url, rule) -> the rule's id; every rule added is removed afterwards."""
    added: list[tuple[str, str]] = []

    def add(base: str, rule: dict[str, Any]) -> str:
        response = httpx.post(f"{base}/_sim/faults", json=rule)
        response.raise_for_status()
        added.append((base, str(response.json()["id"])))
        return added[-1][1]

    yield add
    for base, rule_id in added:
        httpx.delete(f"{base}/_sim/faults/{rule_id}")


def bank_calls(path: str, payment_id: str) -> int:
    """Requests the bank simulator journaled on `path` that mention the payment."""
    entries = httpx.get(
        f"{BANK}/_sim/journal", params={"kind": "request", "path": path, "limit": 5000}
    ).json()["entries"]
    return sum(1 for e in entries if payment_id in (e.get("request_body") or ""))


@pytest.fixture
def wallet(wallet_url: str, internal_headers: dict[str, str]) -> Iterator[Wallet]:
    """The wallet's internal API (refund tests)."""
    with httpx.Client(base_url=wallet_url, headers=internal_headers, timeout=10.0) as http:
        yield Wallet(http)


@pytest.fixture
def approved(
    client: TestClient,
    headers: Callable[..., dict[str, str]],
    internal_headers: dict[str, str],
    wallet: Wallet,
) -> Callable[..., str]:
    """approved(body) -> the id of a payment the (played) SAGA approved and captured."""
    return approver(client, headers, internal_headers, wallet)
