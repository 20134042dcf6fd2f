"""The retry path, live: WebhookFailed on the bus → rule → merchant-webhooks queue → the
running `merchant` consumer → one more POST; failing again → backoff → DLQ with its error."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.aws import client
from paylab.core.consumer import ATTEMPTS, LAST_ERROR
from paylab.core.db import unit_of_work
from paylab.core.dlq import invoke_reprocessor
from paylab.core.events import Envelope
from paylab.core.stack_outputs import output
from paylab.merchant.models import WebhookAttempt, WebhookDelivery
from paylab.merchant.webhooks import form_fields

from ..waiting import wait_until
from .conftest import Registered
from .test_merchant_webhooks import arrived, payment_event, setup_merchant

pytestmark = pytest.mark.timeout(120)


def failed_delivery(sessions: sessionmaker[Session], merchant: Registered, url: str) -> Envelope:
    """A delivery that used up its attempts, and the WebhookFailed the loop would emit."""
    payment = payment_event(merchant.id)
    delivery_id = uuid.uuid4()
    with unit_of_work(sessions) as session:
        session.add(
            WebhookDelivery(
                id=delivery_id,
                event_id=payment.id,
                event_type=payment.type,
                merchant_id=merchant.id,
                payment_id=payment.data["payment_id"],
                url=url,
                fields=form_fields(payment.type, payment.data, payment.occurred_at, test=True),
                status="failed",
                attempts=6,
                last_status_code=500,
                last_error="HTTP 500",
                finished_at=datetime.now(UTC),
            )
        )
    return Envelope(
        type="WebhookFailed",
        source="paylab.merchant",
        subject_id=str(delivery_id),
        correlation_id=payment.id,
        data={"webhook_id": str(delivery_id), "merchant_id": merchant.id}
        | {"payment_id": payment.data["payment_id"], "ref_payco": payment.data["ref_payco"]},
    )


def put_on_bus(event: Envelope) -> None:
    """PutEvents as the outbox relay sends it (Source paylab.merchant, Detail the Envelope)."""
    response = client("events").put_events(
        Entries=[
            {
                "EventBusName": output("EventBusName"),
                "Source": event.source,
                "DetailType": event.type,
                "Detail": event.to_json(),
            }
        ]
    )
    assert response["FailedEntryCount"] == 0, response


def delivery_row(sessions: sessionmaker[Session], delivery_id: str) -> tuple[str, int, int]:
    """(status, attempts, attempt rows) of one delivery."""
    with sessions() as session:
        row = session.get(WebhookDelivery, uuid.UUID(delivery_id))
        assert row is not None
        rows = session.execute(
            select(func.count()).where(WebhookAttempt.delivery_id == row.id)
        ).scalar_one()
        return row.status, row.attempts, int(rows)


def attempts(sessions: sessionmaker[Session], delivery_id: str) -> list[WebhookAttempt]:
    """One delivery's attempts, in order."""
    with sessions() as session:
        return list(
            session.execute(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == uuid.UUID(delivery_id))
                .order_by(WebhookAttempt.attempt)
            ).scalars()
        )


def dead_letter_of(event: Envelope, *, take: bool = False) -> dict[str, Any] | None:
    """Our event's message in the merchant-webhooks DLQ: left in place, or deleted (`take`)."""
    sqs, url = client("sqs"), output("MerchantWebhooksDlqUrl")
    messages = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=30 if take else 0,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    found = None
    for message in messages:
        if json.loads(message["Body"]).get("detail", {}).get("id") == event.id:
            found = dict(message)
            if take:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        elif take:  # someone else's dead letter: visible again at once
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    return found


def test_a_failed_webhook_is_sent_once_more_by_the_retry_path(
    register: Callable[..., Registered],
    receiver: httpx.Client,
    receiver_url: str,
    sessions: sessionmaker[Session],
) -> None:
    merchant = setup_merchant(register, receiver, receiver_url)
    event = failed_delivery(sessions, merchant, f"{receiver_url}/confirmation")

    put_on_bus(event)

    ref = event.data["ref_payco"]
    [hook] = wait_until(lambda: arrived(receiver, ref), timeout=30, description="the retried POST")
    assert hook["signature_valid"], hook["signature_note"]
    status = wait_until(
        lambda: (s := delivery_row(sessions, event.subject_id))[0] == "delivered" and s,
        timeout=15,
        description="the delivery marked delivered",
    )
    assert status == ("delivered", 7, 1)


def test_failing_again_ends_in_the_dlq_with_its_error(
    register: Callable[..., Registered],
    receiver: httpx.Client,
    receiver_url: str,
    sessions: sessionmaker[Session],
) -> None:
    merchant = setup_merchant(register, receiver, receiver_url)
    rule = {
        "match": {"method": "POST", "path": "/confirmation"},
        "effect": {"type": "error", "status": 500},
    }
    assert receiver.post("/_sim/faults", json=rule).status_code == 201
    event = failed_delivery(sessions, merchant, f"{receiver_url}/confirmation")

    put_on_bus(event)

    # The worker's backoff (2, 4, 8 s) then, on the 4th receive, the DLQ.
    dead = wait_until(lambda: dead_letter_of(event), timeout=60, description="the dead letter")
    try:
        attributes = dead["MessageAttributes"]
        assert attributes[LAST_ERROR]["StringValue"].startswith("WebhookStillFailing")
        assert "HTTP 500" in attributes[LAST_ERROR]["StringValue"]
        assert attributes[ATTEMPTS]["StringValue"] == "4"
        assert delivery_row(sessions, event.subject_id) == ("failed", 10, 4)
        assert arrived(receiver, event.data["ref_payco"]) == []
        [queue] = invoke_reprocessor("list", "merchant-webhooks")["queues"]
        assert queue["dlq"]["available"] + queue["dlq"]["in_flight"] >= 1
    finally:
        wait_until(lambda: dead_letter_of(event, take=True), description="our dead letter gone")


def test_a_webhook_that_keeps_failing_holds_up_no_other(
    register: Callable[..., Registered],
    receiver: httpx.Client,
    receiver_url: str,
    sessions: sessionmaker[Session],
) -> None:
    """The rule puts every WebhookFailed in one FIFO group; the consumer moves each to its own.

    In one shared group the healthy merchant's retry would wait until the failing one had
    used up its receives (2 + 4 + 8 s of backoff, then the DLQ), or be dead-lettered unsent.
    """
    down = setup_merchant(register, receiver, receiver_url)
    healthy = setup_merchant(register, receiver, receiver_url)
    url = f"{receiver_url}/confirmation"
    failing, fine = failed_delivery(sessions, down, url), failed_delivery(sessions, healthy, url)
    rule = {
        "match": {"method": "POST", "body": {"x_ref_payco": failing.data["ref_payco"]}},
        "effect": {"type": "error", "status": 500},
    }
    assert receiver.post("/_sim/faults", json=rule).status_code == 201

    put_on_bus(failing)
    wait_until(
        lambda: delivery_row(sessions, failing.subject_id)[2] >= 1,
        timeout=30,
        description="the failing webhook's first retry refused",
    )
    put_on_bus(fine)

    wait_until(lambda: arrived(receiver, fine.data["ref_payco"]), timeout=30, description="POST")
    try:
        # The receiver answers before the merchant service records the attempt: wait for it.
        wait_until(
            lambda: any(a.status_code == 200 for a in attempts(sessions, fine.subject_id)),
            timeout=30,
            description="the healthy delivery recorded",
        )
        # Sent while the failing one was still backing off: before its 4th and last receive
        # (in one shared group it would have waited for that one to be dead-lettered).
        [delivered] = [a for a in attempts(sessions, fine.subject_id) if a.status_code == 200]
        tried = [a for a in attempts(sessions, failing.subject_id) if a.at <= delivered.at]
        assert 1 <= len(tried) < 4, f"the healthy one waited for the failing one ({tried})"
    finally:
        wait_until(lambda: dead_letter_of(failing, take=True), timeout=60, description="cleanup")
