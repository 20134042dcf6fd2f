"""The retry path's handler with a fake database and endpoint: once more, raise, never twice."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from paylab.core.events import Envelope
from paylab.merchant.consumers import (
    RETRY_CONSUMER,
    WebhookStillFailing,
    handle_webhook_failed,
    retry_failed_webhook,
)
from paylab.merchant.delivery import Claimed, Result
from paylab.merchant.models import Merchant, WebhookAttempt, WebhookDelivery


@dataclass
class FakeDb:
    """Rows by (model, id) and the inbox; changes survive only a committed transaction."""

    rows: dict[tuple[type, Any], Any] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    added: list[Any] = field(default_factory=list)
    commits: int = 0


class FakeSession:
    def __init__(self, db: FakeDb) -> None:
        self.db = db
        self.inbox: set[tuple[str, str]] = set()
        self.added: list[Any] = []

    def get(self, model: type, key: Any, with_for_update: bool = False) -> Any:
        return self.db.rows.get((model, key))

    def add(self, row: Any) -> None:
        self.added.append(row)

    def execute(self, statement: Any, params: dict[str, str]) -> Any:
        key = (params["consumer"], params["message_id"])
        new = key not in self.db.inbox and key not in self.inbox
        self.inbox.add(key)
        return type("R", (), {"rowcount": 1 if new else 0})()

    @contextmanager
    def begin(self) -> Any:
        yield self
        self.db.inbox |= self.inbox
        self.db.added += self.added
        self.db.commits += 1

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class FakeDeliverer:
    def __init__(self, *results: Result) -> None:
        self.results = list(results)
        self.sent: list[Claimed] = []

    def send(self, claimed: Claimed) -> Result:
        self.sent.append(claimed)
        return self.results.pop(0)


OK = Result(200, None, 12)
DOWN = Result(503, "HTTP 503", 30)


def _setup(status: str = "failed") -> tuple[FakeDb, WebhookDelivery]:
    merchant = Merchant(id="m-1", cust_id=555, p_key="k" * 40)
    delivery = WebhookDelivery(
        id=uuid.uuid4(),
        merchant_id="m-1",
        url="http://127.0.0.1:9105/confirmation",
        fields={"x_ref_payco": "123", "x_transaction_id": "t", "x_amount": "1.00"}
        | {"x_currency_code": "COP"},
        status=status,
        attempts=6,
    )
    db = FakeDb()
    db.rows[(Merchant, "m-1")] = merchant
    db.rows[(WebhookDelivery, delivery.id)] = delivery
    return db, delivery


def _failed(delivery_id: uuid.UUID, type_: str = "WebhookFailed") -> Envelope:
    return Envelope(
        type=type_,
        source="paylab.merchant",
        subject_id=str(delivery_id),
        correlation_id="evt-payment",
        data={"webhook_id": str(delivery_id), "merchant_id": "m-1"},
    )


def _sessions(db: FakeDb) -> Any:
    return lambda: FakeSession(db)


def test_one_more_attempt_delivers_and_is_remembered_with_its_effect() -> None:
    db, delivery = _setup()
    deliverer = FakeDeliverer(OK)
    event = _failed(delivery.id)

    assert retry_failed_webhook(_sessions(db), deliverer, event) is True  # type: ignore[arg-type]

    [claimed] = deliverer.sent
    assert (claimed.id, claimed.attempt, claimed.url) == (delivery.id, 7, delivery.url)
    assert claimed.form["x_signature"]  # signed again with the merchant's key
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 7, 200)
    [attempt] = [a for a in db.added if isinstance(a, WebhookAttempt)]
    assert (attempt.attempt, attempt.status_code) == (7, 200)
    assert (RETRY_CONSUMER, event.id) in db.inbox


def test_a_redelivered_event_sends_nothing_again() -> None:
    db, delivery = _setup()
    event = _failed(delivery.id)
    retry_failed_webhook(_sessions(db), FakeDeliverer(OK), event)  # type: ignore[arg-type]
    again = FakeDeliverer()

    assert retry_failed_webhook(_sessions(db), again, event) is False  # type: ignore[arg-type]
    assert again.sent == [] and delivery.attempts == 7


def test_failing_again_records_the_attempt_and_raises_without_remembering() -> None:
    db, delivery = _setup()
    event = _failed(delivery.id)

    with pytest.raises(WebhookStillFailing, match="HTTP 503"):
        retry_failed_webhook(_sessions(db), FakeDeliverer(DOWN), event)  # type: ignore[arg-type]

    assert (delivery.status, delivery.last_error, delivery.attempts) == ("failed", "HTTP 503", 7)
    assert [a.status_code for a in db.added if isinstance(a, WebhookAttempt)] == [503]
    assert db.inbox == set()  # so the queue's next receive tries again
    retry_failed_webhook(_sessions(db), FakeDeliverer(OK), event)  # type: ignore[arg-type]
    assert (delivery.status, delivery.attempts) == ("delivered", 8)


def test_unknown_deliveries_and_other_events_are_left_alone() -> None:
    db, _ = _setup()
    deliverer = FakeDeliverer()
    unknown = _failed(uuid.uuid4())

    assert retry_failed_webhook(_sessions(db), deliverer, unknown) is False  # type: ignore[arg-type]
    assert (RETRY_CONSUMER, unknown.id) in db.inbox
    other = _failed(uuid.uuid4(), type_="MerchantRegistered")
    assert retry_failed_webhook(_sessions(db), deliverer, other) is False  # type: ignore[arg-type]
    assert deliverer.sent == []


def test_the_registered_handler_is_the_merchant_consumer() -> None:
    from paylab.core.consumer_registry import REGISTRY, load_handler
    from paylab.core.events import from_eventbridge

    entry = REGISTRY["merchant"]
    assert load_handler(entry.handler) is handle_webhook_failed
    assert (entry.queue_output, entry.parse) == ("MerchantWebhooksQueueUrl", from_eventbridge)
