"""The service's role can append and read, never rewrite; the triggers stop even the owner."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from paylab.core.events import Envelope

from .conftest import uid

AS_SERVICE = [
    ("UPDATE audit.events SET type = 'X' WHERE event_id = :id", "permission denied"),
    ("DELETE FROM audit.events WHERE event_id = :id", "permission denied"),
    ("TRUNCATE audit.events", "permission denied"),
    ("DROP TABLE audit.events", "must be owner"),
    ("ALTER TABLE audit.events DISABLE TRIGGER events_append_only", "must be owner"),
    ("INSERT INTO audit.chain_head (id, seq, row_hash) VALUES (2, 0, '')", "permission denied"),
    ("DELETE FROM audit.chain_head", "permission denied"),
    ("TRUNCATE audit.chain_head", "permission denied"),
    # UPDATE on the head is granted (appends move it), but only one step forward.
    ("UPDATE audit.chain_head SET seq = seq - 1", "only moves forward"),
    ("UPDATE audit.chain_head SET row_hash = row_hash", "only moves forward"),
    ("CREATE TABLE audit.shadow (id int)", "permission denied"),
]


def refused(engine: Engine, sql: str, **params: str) -> str:
    """The error message Postgres answers `sql` with (the transaction is rolled back)."""
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(text(sql), params)
    return str(caught.value.orig)


@pytest.mark.parametrize(("sql", "message"), AS_SERVICE, ids=[s[0][:40] for s in AS_SERVICE])
def test_the_service_role_cannot_rewrite_history(
    engine: Engine, appended: Callable[..., list[Envelope]], sql: str, message: str
) -> None:
    (e,) = appended(uid("pay"), uid("merchant"))
    assert message in refused(engine, sql, id=e.id)
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM audit.events WHERE event_id = :id AND type = :t"),
                {"id": e.id, "t": e.type},
            ).scalar_one()
            == 1
        )


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit.events SET type = 'X' WHERE event_id = :id",
        "DELETE FROM audit.events WHERE event_id = :id",
        "TRUNCATE audit.events",
    ],
)
def test_the_triggers_refuse_changes_even_to_the_tables_owner(
    admin: Engine, appended: Callable[..., list[Envelope]], sql: str
) -> None:
    (e,) = appended(uid("pay"), uid("merchant"))
    assert "append-only" in refused(admin, sql, id=e.id)
