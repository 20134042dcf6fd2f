"""The notifications table: intents, locked sends and the merchant's list (no business rules)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import unit_of_work
from paylab.notification.messages import Draft
from paylab.notification.models import Notification
from paylab.notification.schemas import Channel, Status


class PgClaim:
    """A row locked FOR UPDATE inside the claim's transaction."""

    def __init__(self, row: Notification) -> None:
        self._row = row

    @property
    def id(self) -> str:
        return str(self._row.id)

    @property
    def status(self) -> Status:
        return Status(self._row.status)

    def sent(self, provider_message_id: str) -> None:
        """The provider accepted the message."""
        self._touch(Status.SENT, None)
        self._row.provider_message_id = provider_message_id
        self._row.sent_at = func.now()

    def failed(self, error: str) -> None:
        """The provider refused the message for good."""
        self._touch(Status.FAILED, error)

    def retry_later(self, error: str) -> None:
        """Still `sending`; the error says why the last attempt did not go through."""
        self._touch(Status.SENDING, error)

    def _touch(self, status: Status, error: str | None) -> None:
        self._row.status = status.value
        self._row.error = error[:1000] if error else None
        self._row.attempts += 1
        self._row.updated_at = func.now()


class PgJournal:
    """Notification rows in `notification.notifications`."""

    def __init__(self, sessions: sessionmaker[Session], lock_timeout_s: float = 30.0) -> None:
        self._sessions = sessions
        self._lock_timeout_ms = int(lock_timeout_s * 1000)

    def reserve(self, draft: Draft) -> bool:
        """Insert the row as `sending` (its own transaction); False if it was there already."""
        with unit_of_work(self._sessions) as session:
            created = session.execute(
                insert(Notification)
                .values(
                    id=uuid.uuid4(),
                    event_id=draft.event_id,
                    event_type=draft.event_type,
                    channel=draft.channel.value,
                    recipient=draft.recipient,
                    template=draft.template,
                    subject=draft.subject,
                    body=draft.body,
                    status=Status.SENDING.value,
                    attempts=0,
                    merchant_id=draft.merchant_id,
                    subject_id=draft.subject_id,
                )
                .on_conflict_do_nothing(index_elements=["event_id", "channel"])
                .returning(Notification.id)
            ).first()
        return created is not None

    @contextmanager
    def claim(self, event_id: str, channel: Channel) -> Iterator[PgClaim]:
        """The row, locked until the block ends; a second sender waits, then sees `sent`."""
        with unit_of_work(self._sessions) as session:
            # Bounded: a sender stuck far longer than its own timeouts makes us retry later.
            session.execute(text(f"SET LOCAL lock_timeout = {self._lock_timeout_ms}"))
            row = session.execute(
                select(Notification)
                .where(Notification.event_id == event_id, Notification.channel == channel.value)
                .with_for_update()
            ).scalar_one()
            yield PgClaim(row)


@dataclass(frozen=True)
class Filters:
    """What the merchant's list is narrowed to."""

    subject_id: str | None = None
    event_id: str | None = None
    channel: Channel | None = None
    status: Status | None = None


def page(
    session: Session, merchant_id: str, filters: Filters, *, limit: int, before: int | None
) -> tuple[list[Notification], int | None]:
    """One page of the merchant's rows, newest first, and the cursor of the next (or None)."""
    query = select(Notification).where(Notification.merchant_id == merchant_id)
    if filters.subject_id is not None:
        query = query.where(Notification.subject_id == filters.subject_id)
    if filters.event_id is not None:
        query = query.where(Notification.event_id == filters.event_id)
    if filters.channel is not None:
        query = query.where(Notification.channel == filters.channel.value)
    if filters.status is not None:
        query = query.where(Notification.status == filters.status.value)
    if before is not None:
        query = query.where(Notification.seq < before)
    rows = list(session.execute(query.order_by(Notification.seq.desc()).limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].seq if more and rows else None
