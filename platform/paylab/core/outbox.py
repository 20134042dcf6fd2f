"""The outbox: events are written in the same transaction as the change they describe."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from paylab.core.db import SERVICES_WITH_DB
from paylab.core.events import Envelope
from paylab.core.settings import get_settings

# Where an event goes; the relay (issue 5) maps each to a stack output.
DESTINATIONS = frozenset(
    {
        "sns:payment-events",
        "sns:wallet-events",
        "sns:merchant-events",
        "events:paylab",
        "sqs:notification-ops",
        "sqs:audit-ops",
        "sqs:merchant-ops",
    }
)


def add_event(session: Session, schema: str, event: Envelope, destinations: Sequence[str]) -> None:
    """Queue `event` for publication; commits or rolls back with `session`'s transaction.

    With `validate_events` on, an event that breaks its contract (contracts/events) raises
    `event_schemas.EventContractError` before anything is written.
    """
    unknown = set(destinations) - DESTINATIONS
    if unknown:
        raise ValueError(f"unknown event destinations: {sorted(unknown)}")
    if schema not in SERVICES_WITH_DB:
        raise ValueError(f"no outbox in schema {schema!r}")
    payload = event.to_json()
    if get_settings().events_validated():
        # Imported here: jsonschema is only loaded by processes that validate.
        from paylab.core.event_schemas import validate

        validate(json.loads(payload))
    # One statement for the row and the relay's wake-up (sent when the transaction commits,
    # nothing if it rolls back): a second round trip per event was a fair share of the
    # database's work per payment.
    session.execute(
        text(
            f"INSERT INTO {schema}.outbox"  # noqa: S608 (schema checked against a fixed set)
            " (id, aggregate_id, event_type, payload, destinations) "
            "VALUES (:id, :aggregate_id, :event_type, CAST(:payload AS jsonb), :destinations) "
            "RETURNING pg_notify(:channel, '')"
        ),
        {
            "id": uuid.UUID(event.id),
            "aggregate_id": event.subject_id,
            "event_type": event.type,
            "payload": payload,
            "destinations": list(destinations),
            "channel": f"outbox_{schema}",
        },
    )
