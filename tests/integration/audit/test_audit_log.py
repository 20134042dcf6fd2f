"""One row per event whatever the redeliveries, and one chain whatever the concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import Engine, text

from paylab.audit import consumers
from paylab.audit.chain import InvalidEvent
from paylab.audit.service import AuditService
from paylab.audit.settings import AuditSettings
from paylab.core.events import Envelope

from .conftest import event, uid

T = TypeVar("T")
pytestmark = pytest.mark.timeout(120)


def together(n: int, work: Callable[[int], T]) -> list[T]:
    """Run work(0..n-1) in n threads released at the same instant."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def rows_of(engine: Engine, event_ids: list[str]) -> list[tuple[int, str, bytes, bytes]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT seq, event_id, prev_hash, row_hash FROM audit.events"
                " WHERE event_id = ANY(:ids) ORDER BY seq"
            ),
            {"ids": event_ids},
        ).all()
    return [(r.seq, r.event_id, r.prev_hash, r.row_hash) for r in rows]


def test_the_same_event_three_times_is_one_row(service: AuditService, engine: Engine) -> None:
    e = event(uid("pay"), uid("merchant"))
    # As the SQS worker and a redrive would hand it over: parsed from the wire.
    copies = [Envelope.model_validate_json(e.to_json()) for _ in range(3)]
    assert [service.record(c) for c in copies] == [True, False, False]
    assert len(rows_of(engine, [e.id])) == 1


def test_the_consumer_entry_point_stores_each_event_once(engine: Engine) -> None:
    e = event(uid("pay"), uid("merchant"))
    for _ in range(3):  # what the SQS worker calls, with the wire form
        consumers.handle(Envelope.model_validate_json(e.to_json()))
    assert len(rows_of(engine, [e.id])) == 1


def test_an_event_without_a_storable_form_is_refused_not_half_stored(engine: Engine) -> None:
    e = event(uid("pay\x00"), uid("merchant"))
    with pytest.raises(InvalidEvent):  # the worker retries, then parks it with this error
        consumers.handle(e)
    assert rows_of(engine, [e.id]) == []


def test_the_same_event_delivered_concurrently_is_one_row(
    service: AuditService, engine: Engine
) -> None:
    e = event(uid("pay"), uid("merchant"))
    outcomes = together(8, lambda _: service.record(Envelope.model_validate_json(e.to_json())))
    assert sorted(outcomes) == [False] * 7 + [True]
    assert len(rows_of(engine, [e.id])) == 1


def test_a_reused_id_with_other_content_keeps_the_first(
    service: AuditService, engine: Engine
) -> None:
    first = event(uid("pay"), uid("merchant"))
    other = first.model_copy(update={"data": {**first.data, "amount": "1.00"}})
    assert service.record(first)
    assert not service.record(other)
    page = service.events(str(first.data["merchant_id"]), first.subject_id, limit=10)
    assert [i.data["amount"] for i in page.items] == ["30000.00"]


def test_concurrent_appenders_keep_one_chain(service: AuditService, engine: Engine) -> None:
    merchant = uid("merchant")
    events = [event(uid("pay"), merchant) for _ in range(60)]
    # Two appenders (two consumer processes, or a redrive next to the worker) deliver every
    # event, in other orders, each from 6 threads at once.
    orders = [events, list(reversed(events))]

    def deliver(i: int) -> int:
        mine = orders[i % 2][i // 2 :: 6]
        return sum(service.record(Envelope.model_validate_json(e.to_json())) for e in mine)

    appended = together(12, deliver)
    assert sum(appended) == len(events)  # each event appended exactly once
    rows = rows_of(engine, [e.id for e in events])
    assert sorted(r[1] for r in rows) == sorted(e.id for e in events)
    # No fork: every row hangs off the row right before it in seq order, whoever wrote that.
    with engine.connect() as conn:
        for seq, _, prev_hash, _ in rows:
            before = conn.execute(
                text("SELECT row_hash FROM audit.events WHERE seq = :s"), {"s": seq - 1}
            ).scalar_one()
            assert before == prev_hash
    result = service.verify()
    assert result.ok, result.first_broken
    assert result.rows_checked >= len(events)


def test_verify_walks_the_whole_real_chain_in_batches(
    engine: Engine, appended: Callable[..., list[Envelope]]
) -> None:
    appended(uid("pay"), uid("merchant"), 3)

    def head() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT seq FROM audit.chain_head")).scalar_one())

    before = head()
    result = AuditService(engine, AuditSettings(verify_batch_size=10)).verify()
    assert result.ok, result.first_broken
    # Every row up to the head of its snapshot (live consumers may append meanwhile).
    assert before <= result.rows_checked <= head()
