"""Notification fixtures: the service on the running stack, and where to see what it sent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paylab.core.db import service_engine
from paylab.core.events import Envelope
from paylab.core.internal_auth import MERCHANT_HEADER
from paylab.core.partner_keys import partner_auth
from paylab.core.settings import get_settings
from paylab.notification.app import create
from paylab.notification.service import NotificationService, build
from paylab.notification.settings import NotificationSettings

from ..internal_caller import as_internal_caller

SMS_URL = "http://127.0.0.1:9004"
# Quick retries: the tests wait for bounded retries to run out against a faulted provider.
SETTINGS = NotificationSettings(sms_url=SMS_URL, sms_attempts=3, sms_backoff_s=0.05)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def mobile() -> str:
    """A Colombian mobile no other test uses (never the simulator's magic +5730000000x)."""
    return f"+5731{uuid.uuid4().int % 10**8:08d}"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    engine = service_engine("notification")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def service(engine: Engine) -> NotificationService:
    return build(SETTINGS, engine)


@pytest.fixture(scope="session")
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create(engine=engine, settings=SETTINGS)) as test_client:
        yield as_internal_caller(test_client)


def as_merchant(merchant_id: str) -> dict[str, str]:
    """The header the gateway sets once it has checked the merchant's token."""
    return {MERCHANT_HEADER: merchant_id}


def payment_event(
    merchant_id: str,
    *,
    email: str | None,
    phone: str | None,
    status: str = "approved",
    amount: str = "30000.00",
    occurred_at: datetime | None = None,
) -> Envelope:
    """A PaymentNotificationRequested like payment's projection publishes, with a phone."""
    payment_id = uid("pay")
    cod = {"approved": 1, "rejected": 2, "failed": 4, "abandoned": 10, "reversed": 6}[status]
    event_type = {"approved": "PaymentCompleted", "reversed": "PaymentRefunded"}.get(
        status, "PaymentFailed"
    )
    return Envelope(
        type="PaymentNotificationRequested",
        source="paylab.payment",
        subject_id=payment_id,
        correlation_id=uid("corr"),
        occurred_at=occurred_at or datetime.now(UTC),
        data={
            "payment_id": payment_id,
            "merchant_id": merchant_id,
            "ref_payco": str(uuid.uuid4().int % 10**9),
            "reference": uid("order"),
            "method": "card",
            "amount": amount,
            "currency": "COP",
            "status": status,
            "cod_respuesta": cod,
            "reason": None if status == "approved" else "insufficient_funds",
            "event_type": event_type,
            "customer_email": email,
            "customer_phone": phone,
        },
    )


def emails_to(address: str, sender: str = SETTINGS.sender_email) -> list[dict[str, Any]]:
    """What LocalStack's SES sent to `address` (GET /_aws/ses)."""
    endpoint = get_settings().endpoint_url()
    response = httpx.get(f"{endpoint}/_aws/ses", params={"email": sender}, timeout=10)
    response.raise_for_status()
    return [
        m
        for m in response.json()["messages"]
        if address in m.get("Destination", {}).get("ToAddresses", [])
    ]


@dataclass
class SmsJournal:
    """The SMS simulator's journal from the moment the fixture was made."""

    since: int

    def posts_to(self, phone: str, status: int | None = None) -> list[dict[str, Any]]:
        """POST /v1/messages calls for `phone`, optionally only those answered `status`."""
        response = httpx.get(
            f"{SMS_URL}/_sim/journal",
            params={"since": self.since, "method": "POST", "path": "/v1/messages", "limit": 1000},
            timeout=10,
        )
        response.raise_for_status()
        return [
            e
            for e in response.json()["entries"]
            if json.loads(e["request_body"] or "{}").get("to") == phone
            and (status is None or e["status"] == status)
        ]


@pytest.fixture
def sms_journal() -> SmsJournal:
    last = httpx.get(f"{SMS_URL}/_sim/journal", params={"limit": 1}, timeout=10).json()
    return SmsJournal(since=int(last["last_seq"]))


def sms_messages_to(phone: str) -> list[dict[str, Any]]:
    """The SMS simulator's message log for one number."""
    response = httpx.get(
        f"{SMS_URL}/v1/messages", params={"to": phone}, auth=partner_auth("sms"), timeout=10
    )
    response.raise_for_status()
    return list(response.json()["messages"])


@dataclass
class SmsFaults:
    """Fault rules on the shared SMS simulator that only touch this test's numbers."""

    added: list[str]

    def fail_posts_to(self, phone: str, status: int = 503) -> str:
        """POST /v1/messages for `phone` answers `status` until cleared; the rule id."""
        rule = {
            "match": {"method": "POST", "path": "/v1/messages", "body": {"to": phone}},
            "effect": {"type": "error", "status": status},
        }
        response = httpx.post(f"{SMS_URL}/_sim/faults", json=rule, timeout=10)
        assert response.status_code in (200, 201), response.text
        self.added.append(str(response.json()["id"]))
        return self.added[-1]

    def clear(self, rule_id: str) -> None:
        """Remove one rule (never the other tests' rules)."""
        response = httpx.delete(f"{SMS_URL}/_sim/faults/{rule_id}", timeout=10)
        assert response.status_code in (204, 404), response.text
        self.added.remove(rule_id)


@pytest.fixture
def sms_faults() -> Iterator[SmsFaults]:
    faults = SmsFaults([])
    yield faults
    for rule_id in list(faults.added):
        faults.clear(rule_id)
