"""Payment outcomes → confirmation webhooks: one delivery row per event, stored with the inbox row.

`handle` is what the `merchant-ops` queue consumer calls (in the workers process): payment's
outbox sends each outcome there (the queue keeps them while anything is down). A recorded
delivery NOTIFYs the merchant service's delivery loop, which sends it.
`handle_webhook_failed` is the retry path's consumer (`merchant`, on `merchant-webhooks.fifo`,
which the WebhookFailed rule feeds): one more attempt; failing again raises, so the queue's
backoff, DLQ and parking apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import unit_of_work
from paylab.core.events import Envelope
from paylab.core.inbox import first_delivery
from paylab.merchant.delivery import (
    WEBHOOK_CHANNEL,
    Claimed,
    Deliverer,
    count_attempt,
    record_attempt,
)
from paylab.merchant.models import Merchant, WebhookDelivery
from paylab.merchant.settings import MerchantSettings
from paylab.merchant.webhooks import PAYMENT_OUTCOMES, form_fields

log = structlog.get_logger("paylab.merchant.consumers")
CONSUMER = "merchant-webhooks"
RETRY_CONSUMER = "merchant-webhook-retries"


class WebhookStillFailing(RuntimeError):
    """The retry path's extra attempt failed too; the message goes back to its queue."""


def record_webhook(
    sessions: sessionmaker[Session],
    settings: MerchantSettings,
    envelope: Envelope,
    *,
    on_recorded: Callable[[], None] | None = None,
) -> uuid.UUID | None:
    """Queue the confirmation webhook for a payment outcome; the id of the new delivery, if any.

    Nothing is queued for other events, a redelivered event, a merchant not registered here,
    or one with no confirmation URL (neither on the payment nor in its settings).
    """
    if envelope.type not in PAYMENT_OUTCOMES:
        return None
    # Before the transaction: a malformed event raises and is retried, then dead-lettered.
    fields = form_fields(
        envelope.type, envelope.data, envelope.occurred_at, test=settings.webhook_test_request
    )
    with unit_of_work(sessions) as session:
        if not first_delivery(session, "merchant", CONSUMER, envelope.id):
            return None
        merchant_id = str(envelope.data.get("merchant_id") or "")
        merchant = session.execute(
            select(Merchant).where(Merchant.id == merchant_id, Merchant.status == "active")
        ).scalar_one_or_none()
        url = envelope.data.get("confirmation_url") or (merchant and merchant.confirmation_url)
        if merchant is None or not url:
            log.info(
                "webhook.skipped",
                event_id=envelope.id,
                merchant_id=merchant_id,
                reason="unknown merchant" if merchant is None else "no confirmation URL",
            )
            return None
        delivery_id = uuid.uuid4()
        inserted = session.execute(
            insert(WebhookDelivery)
            .values(
                id=delivery_id,
                event_id=envelope.id,
                event_type=envelope.type,
                merchant_id=merchant.id,
                payment_id=str(envelope.data["payment_id"]),
                url=str(url),
                fields=fields,
                status="pending",
                lane=settings.delivery_lane,
                attempts=0,
                next_attempt_at=func.now(),
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            # A new row wakes the merchant service's delivery loop (this runs in the workers
            # process) in the same statement, as the outbox wakes its relay; sent at commit.
            .returning(WebhookDelivery.id, func.pg_notify(WEBHOOK_CHANNEL, ""))
        ).first()
    if inserted is not None and on_recorded is not None:
        on_recorded()  # after the commit: the delivery loop can see the row now
    return delivery_id if inserted is not None else None


def handle(envelope: Envelope) -> None:
    """Record the event's webhook, if any; raises to have the message retried."""
    from paylab.merchant.runtime import RUNTIME

    runtime = RUNTIME()
    record_webhook(runtime.sessions, runtime.settings, envelope, on_recorded=runtime.wake)


def _claim_retry(
    sessions: sessionmaker[Session], envelope: Envelope, delivery_id: uuid.UUID
) -> Claimed | None:
    """Count one more attempt on a failed delivery; None when there is nothing to send."""
    with unit_of_work(sessions) as session:
        row = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if row is None or row.status == "delivered":
            # Unknown here, or delivered by an earlier copy of this message: remember and stop.
            first_delivery(session, "merchant", RETRY_CONSUMER, envelope.id)
            return None
        return count_attempt(session, row, datetime.now(UTC))


def retry_failed_webhook(
    sessions: sessionmaker[Session], deliverer: Deliverer, envelope: Envelope
) -> bool:
    """Send a WebhookFailed's delivery once more; True when it was delivered by this call.

    Raises WebhookStillFailing when the merchant's endpoint fails again. Idempotent per
    event id: the success is stored with the inbox row, and a delivered webhook is never
    sent again.
    """
    if envelope.type != "WebhookFailed":
        return False
    delivery_id = uuid.UUID(str(envelope.data["webhook_id"]))
    claimed = _claim_retry(sessions, envelope, delivery_id)
    if claimed is None:
        return False
    result = deliverer.send(claimed)
    with unit_of_work(sessions) as session:
        row = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if row is None:  # deleted while sending (its merchant was removed): nothing to record
            first_delivery(session, "merchant", RETRY_CONSUMER, envelope.id)
            return False
        now = record_attempt(session, row, claimed, result)
        if result.ok:
            row.status, row.finished_at = "delivered", now
            first_delivery(session, "merchant", RETRY_CONSUMER, envelope.id)
    log.info(
        "webhook.retry_attempt",
        delivery_id=str(delivery_id),
        attempt=claimed.attempt,
        status_code=result.status_code,
        error=result.error,
    )
    if not result.ok:
        raise WebhookStillFailing(
            f"webhook {delivery_id} attempt {claimed.attempt}: {result.error}"
        )
    return True


def handle_webhook_failed(envelope: Envelope) -> None:
    """Consumer entrypoint (merchant-webhooks queue): one more try for a failed webhook."""
    from paylab.merchant.runtime import RUNTIME

    runtime = RUNTIME()
    retry_failed_webhook(runtime.sessions, runtime.deliverer, envelope)
