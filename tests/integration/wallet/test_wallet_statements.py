"""Database work per SAGA step: how many statements a reserve and a capture send.

The SAGA benchmark (bench/saga.py) found the services' own CPU and Postgres's the largest
share per payment; each statement is a round trip paid on both sides. These are budgets,
not exact counts: a change that adds reads to the payment path fails here first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from .conftest import Merchant, uid

# Measured (with the pool's pre-ping SELECT 1 and BEGIN/COMMIT not counted by the hook):
# reserve 23 -> 16, capture 21 -> 14 after dropping repeated reads, flushes and pg_notify.
RESERVE_BUDGET = 16
CAPTURE_BUDGET = 14


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements `engine` sends inside the block (an executemany counts once)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_reserve_and_capture_stay_within_their_statement_budgets(
    client: TestClient, engine: Engine, merchant: Merchant
) -> None:
    payer = merchant.wallet(funded="100000.00")
    with counted(engine) as reserving:
        r = client.post("/internal/holds", json=merchant.hold_request("wallet", "30000.00", payer))
    assert r.status_code == 201, r.text
    with counted(engine) as capturing:
        r = client.post(
            f"/internal/holds/{r.json()['id']}/capture", json={"operation_id": uid("cap")}
        )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "captured"
    assert len(reserving) <= RESERVE_BUDGET, reserving
    assert len(capturing) <= CAPTURE_BUDGET, capturing
