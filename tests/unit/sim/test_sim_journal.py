"""The journal ring buffer and its filters."""

from __future__ import annotations

import asyncio

from simulators.journal import Journal, JournalQuery, render


def add(j: Journal, path: str = "/v1/x", status: int = 200, **kw: object) -> None:
    j.record("request", "POST", path, "", b"{}", status, b"{}", 1.0, **kw)  # type: ignore[arg-type]


def test_bounded_keeps_newest() -> None:
    j = Journal(capacity=3)
    for i in range(5):
        add(j, f"/p{i}")
    got = j.select(JournalQuery(order="asc"))
    assert [e.path for e in got] == ["/p2", "/p3", "/p4"]
    assert j.stats() == {"size": 3, "capacity": 3, "last_seq": 5}


def test_filters() -> None:
    j = Journal()
    add(j, "/v1/authorizations", 201)
    add(j, "/v1/authorizations", 503, fault_id="f1", fault_type="error")
    add(j, "/v1/payouts", 422)
    j.record("callback", "POST", "/hook", "", b"{}", 200, b"ok", 2.0, url="http://x/hook")
    assert len(j.select(JournalQuery(kind="callback"))) == 1
    assert [e.status for e in j.select(JournalQuery(status="5xx"))] == [503]
    assert [e.status for e in j.select(JournalQuery(status="422"))] == [422]
    assert [e.fault_id for e in j.select(JournalQuery(fault="any"))] == ["f1"]
    assert len(j.select(JournalQuery(fault="none"))) == 3
    assert len(j.select(JournalQuery(fault="f1"))) == 1
    assert len(j.select(JournalQuery(path="/v1/*"))) == 3
    assert len(j.select(JournalQuery(method="get"))) == 0
    assert [e.seq for e in j.select(JournalQuery(since=2, order="asc"))] == [3, 4]
    assert [e.seq for e in j.select(JournalQuery(limit=2))] == [4, 3]


def test_render_decodes_and_truncates_bodies() -> None:
    j = Journal()
    entry = j.record("request", "POST", "/x", "a=1", b"x" * 10_000, 200, b"\xff", 1.23456)
    out = render(entry)
    assert len(out.request_body) == 8192
    assert out.response_body == "\ufffd"
    assert out.duration_ms == 1.235
    assert out.fault is None


def test_long_poll_wakes_on_append() -> None:
    async def scenario() -> int:
        j = Journal()
        waiter = asyncio.create_task(
            j.wait_select(JournalQuery(kind="callback", wait_ms=5000, min_count=1))
        )
        await asyncio.sleep(0)
        add(j)  # a request does not satisfy the filter
        j.record("callback", "POST", "/hook", "", b"", 200, b"", 1.0)
        return len(await asyncio.wait_for(waiter, 2))

    assert asyncio.run(scenario()) == 1


def test_long_poll_times_out_with_what_it_has() -> None:
    async def scenario() -> int:
        j = Journal()
        return len(await j.wait_select(JournalQuery(wait_ms=20, min_count=1)))

    assert asyncio.run(scenario()) == 0


def test_resize_keeps_newest() -> None:
    j = Journal(capacity=10)
    for i in range(10):
        add(j, f"/p{i}")
    j.resize(2)
    assert [e.path for e in j.select(JournalQuery(order="asc"))] == ["/p8", "/p9"]
