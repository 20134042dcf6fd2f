"""The Postgres projection of payment streams, and the outbox rows each event produces.

Writers append to DynamoDB first, then move the row from version N to N+k in one transaction
with the event's outbox rows (`UPDATE ... WHERE version = N`). A row can therefore be behind its
stream (a crash between the two steps) but never ahead or different; `catch_up` re-folds the
stream and brings the row, and the outbox rows it missed, forward.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from paylab.core.events import Envelope
from paylab.core.money import fmt, to_decimal
from paylab.core.outbox import add_event
from paylab.payment import domain
from paylab.payment.domain import EventRecord, PaymentState, Status
from paylab.payment.models import payments

SOURCE = "paylab.payment"
_NS = uuid.UUID("6a1f2b4e-6d0c-4f2a-9b1e-5c7d8e9f0a1b")
_STATE_FIELDS = tuple(PaymentState.__dataclass_fields__)
# The topic (the published contract, ARCHITECTURE §3), and the queues of the services that
# must not miss an event (an SNS push to a service that is down is lost; a queue waits):
# audit's, and for what the merchant confirms, the merchant's (decisions.md, "Audit and
# merchant read their queues").
TO_TOPIC_AND_AUDIT = ("sns:payment-events", "sqs:audit-ops")
TO_CONFIRM = (*TO_TOPIC_AND_AUDIT, "sqs:merchant-ops")


class ProjectionBehind(Exception):
    """The row is not at the version the writer expected: catch up from the store."""


def to_row(state: PaymentState) -> dict[str, Any]:
    """Column values for a state (plus the derived cod_respuesta)."""
    row = state.as_dict()
    row["status"] = state.status.value
    row["outcome_status"] = state.outcome_status.value if state.outcome_status else None
    row["customer"] = dict(state.customer)
    row["refund_ids"] = list(state.refund_ids)
    row["cod_respuesta"] = state.cod_respuesta
    return row


def from_row(row: Mapping[Any, Any]) -> PaymentState:
    """The state a projection row holds."""
    values = {name: row[name] for name in _STATE_FIELDS}
    values["status"] = Status(values["status"])
    if values["outcome_status"] is not None:
        values["outcome_status"] = Status(values["outcome_status"])
    values["customer"] = dict(values["customer"] or {})
    values["refund_ids"] = tuple(values["refund_ids"] or ())
    return PaymentState(**values)


def load_row(session: Session, payment_id: str, *, lock: bool = False) -> PaymentState | None:
    """The projected state of one payment, optionally locked for update."""
    query = select(payments).where(payments.c.id == payment_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).mappings().first()
    return from_row(row) if row else None


def apply(
    session: Session,
    before: PaymentState | None,
    after: PaymentState,
    new_events: Sequence[EventRecord],
) -> None:
    """Move the row from `before` to `after` and queue the new events' outbox rows."""
    values = to_row(after)
    if before is None:
        stmt = insert(payments).values(**values).on_conflict_do_nothing(index_elements=["id"])
        changed = session.execute(stmt.returning(payments.c.id)).first()
    else:
        # Only the columns the events changed: `before` is what the row holds at that version
        # (the WHERE guards it), so the rest already equal the fold. A step's event touches a
        # handful of the ~40 columns; binding and rewriting all of them was most of the cost.
        old = to_row(before)
        changes = {name: value for name, value in values.items() if old.get(name) != value}
        changed = session.execute(
            payments.update()
            .where(payments.c.id == after.id, payments.c.version == before.version)
            .values(**changes)
            .returning(payments.c.id)
        ).first()
    if changed is None:
        raise ProjectionBehind(f"payment {after.id} is not at version {before and before.version}")
    state = before
    for event in new_events:
        state = domain.evolve(state, event)
        publish(session, state, event)


def publish(session: Session, state: PaymentState, event: EventRecord) -> None:
    """The outbox rows of one event; ids derive from the event id, so they are stable."""
    data = public_view(state)
    if event.type == domain.CREATED:
        created = _envelope(event, event.event_id, data)
        add_event(session, "payment", created, TO_TOPIC_AND_AUDIT)
        # A payment antifraud rejected never starts processing (and holds nothing).
        if (event.data.get("antifraud") or {}).get("decision") != "reject":
            started = _envelope(event, _derived(event, "processing-started"), data)
            started.type = "PaymentProcessingStarted"
            add_event(session, "payment", started, ["events:paylab"])
    elif event.type in (domain.COMPLETED, domain.FAILED, domain.REFUNDED):
        add_event(
            session,
            "payment",
            _envelope(event, event.event_id, {**data, **_extras(event, state)}),
            TO_CONFIRM,
        )
        notify = _envelope(event, _derived(event, "notify"), {**data, **_extras(event, state)})
        notify.type = "PaymentNotificationRequested"
        notify.data["event_type"] = event.type
        notify.data["customer_email"] = state.customer.get("email")
        notify.data["customer_phone"] = state.customer.get("phone")
        notify.data["customer_name"] = state.customer.get("name")
        add_event(session, "payment", notify, ["sqs:notification-ops", "sqs:audit-ops"])
    elif event.type == domain.HELD_FOR_REVIEW:
        # The merchant is told "Retenida" (cod 7) like any state change it must wait on.
        held = _envelope(event, event.event_id, {**data, **_extras(event, state)})
        add_event(session, "payment", held, TO_CONFIRM)
    elif event.type == domain.REVIEWED:
        # An operator's decision about someone else's money: the audit log must have it.
        review = {"decision": event.data["decision"], "review_reason": event.data.get("reason")}
        reviewed = _envelope(event, event.event_id, {**data, **review})
        add_event(session, "payment", reviewed, ["sqs:audit-ops"])
    # PaymentProcessed is internal: the outcome travels with PaymentCompleted / PaymentFailed.


def public_view(state: PaymentState) -> dict[str, Any]:
    """What leaves the service about a payment (no tokens, no idempotency data)."""
    return {
        "payment_id": state.id,
        "merchant_id": state.merchant_id,
        "ref_payco": state.ref_payco,
        "reference": state.reference,
        "method": state.method,
        "amount": fmt(state.amount),
        "currency": state.currency,
        "status": state.status.value,
        "cod_respuesta": state.cod_respuesta,
        # What the merchant's confirmation webhook carries (x_description, x_approval_code).
        "description": state.description,
        "confirmation_url": state.confirmation_url,
        "authorization_id": state.authorization_id,
    }


def _extras(event: EventRecord, state: PaymentState) -> dict[str, Any]:
    extras = {k: event.data[k] for k in ("reason", "refund_id") if k in event.data}
    if event.type == domain.REFUNDED:
        # This refund, and all of the payment's so far (it stays approved until they add up).
        extras["refund_amount"] = fmt(to_decimal(str(event.data.get("amount") or state.amount)))
        extras["refunded_amount"] = fmt(state.refunded_amount)
    return extras


def _derived(event: EventRecord, purpose: str) -> str:
    return str(uuid.uuid5(_NS, f"{event.event_id}:{purpose}"))


def _envelope(event: EventRecord, envelope_id: str, data: dict[str, Any]) -> Envelope:
    return Envelope(
        id=envelope_id,
        type=event.type,
        occurred_at=event.occurred_at,
        source=SOURCE,
        subject_id=str(data["payment_id"]),
        correlation_id=event.correlation_id or event.event_id,
        data=data,
    )
