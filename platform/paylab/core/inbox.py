"""The consumer side of exactly-once effects: remember each message id with its effect.

A consumer calls `first_delivery` inside the transaction that applies the effect (STYLE
rule 3): a redelivered message finds its id already stored and does nothing, and a rolled
back effect takes its id with it, so the retry is not mistaken for a duplicate.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from paylab.core.db import SERVICES_WITH_DB

# {schema} is checked against SERVICES_WITH_DB below: never user input.
_REMEMBER = """
    INSERT INTO {schema}.processed_messages (consumer, message_id)
    VALUES (:consumer, :message_id)
    ON CONFLICT DO NOTHING
"""


def first_delivery(session: Session, schema: str, consumer: str, message_id: str) -> bool:
    """True the first time `consumer` sees `message_id` (recorded in the caller's transaction)."""
    if schema not in SERVICES_WITH_DB:
        raise ValueError(f"no service schema {schema!r}")
    if not consumer or not message_id:
        raise ValueError("consumer and message_id must not be empty")
    result = session.execute(
        text(_REMEMBER.replace("{schema}", schema)),
        {"consumer": consumer, "message_id": message_id},
    )
    # rowcount is 1 for an insert, 0 when ON CONFLICT skipped it (CursorResult at runtime).
    return bool(getattr(result, "rowcount", 0) == 1)
