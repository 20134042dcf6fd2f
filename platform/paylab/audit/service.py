"""The audit log's use cases: append an event once, read a subject's events, verify the chain."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import structlog
from sqlalchemy import Engine, LargeBinary, Table, bindparam, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from paylab.audit import chain, schemas
from paylab.audit.models import ChainHead, Event
from paylab.audit.settings import AuditSettings
from paylab.core.db import session_factory
from paylab.core.events import Envelope

log = structlog.get_logger(__name__)
HEAD = 1  # the id of chain_head's only row
_ROW_COLUMNS = [getattr(Event, name) for name in chain.Row.__dataclass_fields__]
_HEAD = select(ChainHead.seq, ChainHead.row_hash).where(ChainHead.id == HEAD)


def _append_statement() -> Any:
    """Lock the head, insert the row linked to it, move the head (see AuditService.record).

    Core tables (not text) so that a schema_translate_map reaches it (the tamper tests).
    """
    events, head_table = Event.__table__, ChainHead.__table__
    assert isinstance(events, Table) and isinstance(head_table, Table)
    head = (
        select(head_table.c.seq, head_table.c.row_hash)
        .where(head_table.c.id == HEAD)
        .with_for_update()
        .cte("head")
    )
    seq = head.c.seq + 1
    content_hash = bindparam("content_hash", type_=LargeBinary)
    link = func.sha256(head.c.row_hash.op("||")(content_hash).op("||")(func.int8send(seq)))
    names = ["event_id", "type", "source", "subject_id", "merchant_id", "occurred_at", "content"]
    row = select(
        seq,
        *(bindparam(name, type_=events.c[name].type) for name in names),
        content_hash,
        head.c.row_hash,
        link,
    )
    added = (
        pg_insert(events)
        .from_select(["seq", *names, "content_hash", "prev_hash", "row_hash"], row)
        .on_conflict_do_nothing(index_elements=[events.c.event_id])
        .returning(events.c.seq, events.c.row_hash)
        .cte("added")
    )
    # Not `FROM added WHERE head.row_hash = added.prev_hash`: that join is checked against
    # the statement's snapshot of the head, which a waiter's predecessor has moved since, so
    # the head would stay put behind a committed row. `id = HEAD AND EXISTS (added)` is
    # re-checked on the head's newest version (READ COMMITTED), and always holds.
    return (
        update(head_table)
        .where(head_table.c.id == HEAD, exists(select(added.c.seq)))
        .values(
            seq=select(added.c.seq).scalar_subquery(),
            row_hash=select(added.c.row_hash).scalar_subquery(),
            updated_at=func.now(),
        )
        .returning(head_table.c.seq)
    )


_APPEND = _append_statement()
# One snapshot for head and rows: appends during a walk neither break nor hide links.
_SNAPSHOT: dict[str, Any] = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}


class AuditService:
    """The audit log over one engine connected as `paylab_audit` (INSERT and SELECT only)."""

    def __init__(self, engine: Engine, settings: AuditSettings) -> None:
        self._engine = engine
        self._sessions: sessionmaker[Session] = session_factory(engine)
        self.settings = settings
        # The last walk (when, rows checked, first broken row): merchants' verifications
        # reuse it for `verify_reuse_seconds`, one walk at a time.
        self._last_walk: tuple[float, int, chain.Broken | None] | None = None
        self._walking = threading.Lock()

    def record(self, envelope: Envelope) -> bool:
        """Append `envelope` to the chain unless its id is already there; True if appended.

        One statement in its own transaction (`_APPEND`, one round trip): it locks the chain
        head's row (`SELECT ... FOR UPDATE`), inserts the row linked to the head, and moves
        the head only if the row went in. Appends serialize on that row lock rather than on an
        advisory lock:

        - the lock and the head move with the transaction: released at commit or rollback,
          never left behind on a pooled connection, no key space shared with the outbox
          relay's advisory locks;
        - the head holds the last row's hash, so linking needs no scan of `events`; the
          database backs it up: `seq` is the primary key and `prev_hash` is UNIQUE, so two
          appenders that ever raced would fail, never fork the chain;
        - under READ COMMITTED a waiter re-reads the head its predecessor committed (the
          locked row's newest version); a stricter level fails with a serialization error
          (retried), never forks.

        The event id (an SQS poll, a redelivery, a redrive) is checked under the same
        lock (ON CONFLICT on the unique event id), so one event is one row whatever the
        interleaving. The row hash is `chain.link` computed by Postgres (`sha256` of
        prev_hash, content_hash and seq as 8 big-endian bytes, `int8send`); `verify`
        recomputes it in Python.
        """
        document = envelope.model_dump(mode="json")
        content = chain.canonical_json(document)
        columns = chain.columns(document)
        content_hash = chain.sha256(content)
        params = {
            "event_id": columns.event_id,
            "type": columns.type,
            "source": columns.source,
            "subject_id": columns.subject_id,
            "merchant_id": columns.merchant_id,
            "occurred_at": columns.occurred_at,
            "content": content.decode("utf-8"),
            "content_hash": content_hash,
        }
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            moved = conn.execute(_APPEND, params).first()
        if moved is None:  # already stored: say so if it came back with other content
            with self._sessions() as session:
                self._stored(session, columns.event_id, content_hash)
            return False
        return True

    @staticmethod
    def _stored(session: Session, event_id: str, content_hash: bytes) -> bool:
        stored = session.execute(
            select(Event.seq, Event.content_hash).where(Event.event_id == event_id)
        ).first()
        if stored is not None and stored.content_hash != content_hash:
            # Ids are unique per event: the first version stays, the other is only reported.
            log.warning("audit_event_id_reused", event_id=event_id, seq=stored.seq)
        return stored is not None

    def events(
        self, merchant_id: str, subject_id: str, *, limit: int, after: int | None = None
    ) -> schemas.EventPage:
        """The merchant's events about `subject_id`, oldest first, after chain position `after`."""
        query = (
            select(Event)
            .where(Event.merchant_id == merchant_id, Event.subject_id == subject_id)
            .order_by(Event.seq)
            .limit(limit + 1)
        )
        if after is not None:
            query = query.where(Event.seq > after)
        with self._sessions() as session:
            rows = session.scalars(query).all()
        items = [_view(row) for row in rows[:limit]]
        more = len(rows) > limit
        return schemas.EventPage(
            subject_id=subject_id,
            items=items,
            next_cursor=str(items[-1].seq) if more else None,
        )

    def verify(self, viewer: str | None = None) -> schemas.Verification:
        """Whether the chain is intact, and its first broken row.

        `viewer` is the merchant asking: the broken row's event id is shown only when it is
        theirs, and a walk younger than `verify_reuse_seconds` is reused (a walk reads every
        merchant's rows). None: an operator, who always gets a new walk and every id.
        """
        with self._walking:
            last = self._last_walk
            fresh = (
                last is not None and time.monotonic() - last[0] < self.settings.verify_reuse_seconds
            )
            if viewer is None or not fresh:
                checked, broken = self._walk()
                last = self._last_walk = (time.monotonic(), checked, broken)
        assert last is not None
        _, checked, broken = last
        if broken is None:
            return schemas.Verification(ok=True, rows_checked=checked, first_broken=None)
        shown = viewer is None or broken.merchant_id == viewer
        first = schemas.BrokenRow(
            seq=broken.seq, event_id=broken.event_id if shown else None, reason=broken.reason
        )
        return schemas.Verification(ok=False, rows_checked=checked, first_broken=first)

    def _walk(self) -> tuple[int, chain.Broken | None]:
        """Walk the whole chain in batches of one consistent snapshot; the first broken row."""
        started = time.perf_counter()
        walk = chain.ChainWalk()
        batch = self.settings.verify_batch_size
        with self._engine.connect().execution_options(**_SNAPSHOT) as conn, conn.begin():
            head = conn.execute(_HEAD).one()
            after = 0
            while True:
                rows = conn.execute(
                    select(*_ROW_COLUMNS).where(Event.seq > after).order_by(Event.seq).limit(batch)
                ).all()
                if not rows or not walk.feed(chain.Row(*row) for row in rows):
                    break
                after = rows[-1].seq
        broken = walk.finish(head.seq, head.row_hash)
        log.info(
            "audit_verified",
            ok=broken is None,
            rows_checked=walk.checked,
            seconds=round(time.perf_counter() - started, 3),
        )
        return walk.checked, broken


def _view(row: Event) -> schemas.AuditEvent:
    envelope = json.loads(row.content)
    return schemas.AuditEvent(
        seq=row.seq,
        event_id=row.event_id,
        type=row.type,
        version=int(envelope.get("version", 1)),
        source=row.source,
        subject_id=row.subject_id,
        correlation_id=str(envelope.get("correlation_id", "")),
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        data=dict(envelope.get("data") or {}),
        content_hash=row.content_hash.hex(),
        prev_hash=row.prev_hash.hex(),
        row_hash=row.row_hash.hex(),
    )
