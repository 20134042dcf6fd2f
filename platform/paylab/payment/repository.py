"""Loading and changing payments: append to the event store, then project (never the reverse)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import reads, unit_of_work
from paylab.payment import domain
from paylab.payment.domain import EventRecord, PaymentState
from paylab.payment.event_store import EventStore, VersionConflict
from paylab.payment.projection import ProjectionBehind, apply, load_row

log = structlog.get_logger(__name__)

#: (event type, data) pairs a command decides on; versions are assigned on append.
NewEvents = Sequence[tuple[str, Mapping[str, Any]]]
_ATTEMPTS = 5


def _correlation_id() -> str:
    return str(structlog.contextvars.get_contextvars().get("correlation_id", ""))


def new_events(after_version: int, decided: NewEvents) -> list[EventRecord]:
    """Events with ids, timestamps and the versions that follow `after_version`."""
    now = datetime.now(UTC)
    return [
        EventRecord(
            event_id=str(uuid.uuid4()),
            type=kind,
            version=after_version + i,
            occurred_at=now,
            data=dict(data),
            correlation_id=_correlation_id(),
        )
        for i, (kind, data) in enumerate(decided, start=1)
    ]


class PaymentRepository:
    """The only way payments change: `append` (DynamoDB first) and `catch_up` (re-fold)."""

    def __init__(self, sessions: sessionmaker[Session], store: EventStore) -> None:
        self.sessions = sessions
        self.store = store

    def get(self, payment_id: str) -> PaymentState | None:
        """The projected state (may lag its stream only after a crash; see catch_up)."""
        with reads(self.sessions) as session:
            return load_row(session, payment_id)

    def append(self, before: PaymentState | None, events: Sequence[EventRecord]) -> PaymentState:
        """Append `events` after `before`, then project them; VersionConflict if we lost a race."""
        after = domain.fold_from(before, events)
        assert after is not None
        self.store.append(after.id, events)
        try:
            with unit_of_work(self.sessions) as session:
                apply(session, before, after, events)
        except ProjectionBehind:
            # The row lags the stream (an earlier writer crashed after its append): re-fold.
            caught = self.catch_up(after.id)
            assert caught is not None
            return caught
        return after

    def catch_up(self, payment_id: str) -> PaymentState | None:
        """Bring the row (and the outbox) up to the stream; returns the current state."""
        for _ in range(_ATTEMPTS):
            try:
                with unit_of_work(self.sessions) as session:
                    before = load_row(session, payment_id, lock=True)
                    events = self.store.load(payment_id, before.version if before else 0)
                    if not events:
                        return before
                    after = domain.fold_from(before, events)
                    assert after is not None
                    apply(session, before, after, events)
                    log.warning("projection caught up", payment_id=payment_id, events=len(events))
                    return after
            except ProjectionBehind:
                continue  # a concurrent catch-up inserted the row first; read it again
        raise RuntimeError(f"payment {payment_id}: projection did not settle")

    def change(
        self,
        payment_id: str,
        decide: Callable[[PaymentState], NewEvents],
        *,
        known: PaymentState | None = None,
    ) -> PaymentState:
        """Run a command: decide on events from the current state and append them.

        On a version conflict the state is refreshed from the stream and the command decides
        again, so two racing writers both end up seeing the winner's events. `known` is a state
        the caller has just read: it saves reading the row again, and if it is stale by now,
        the append's version check turns that into one such retry.
        """
        state = known if known is not None else self.get(payment_id)
        for _ in range(_ATTEMPTS):
            if state is None:
                raise KeyError(payment_id)
            decided = decide(state)
            if not decided:
                return state
            try:
                return self.append(state, new_events(state.version, decided))
            except VersionConflict:
                state = self.catch_up(payment_id)
        raise RuntimeError(f"payment {payment_id}: too many concurrent writers")
