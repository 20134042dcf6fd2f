"""Every event the test run published matches its contract (contracts/events, issue 5).

pytest collects this module with the others, before any test runs, so the time of import is
the start of the session; the check runs after the feature scenarios (pytest orders
`features/steps/` before this file) and reads every outbox row created since then, in every
service schema, so it covers the integration tests and the scenarios alike.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from paylab.core.db import SERVICES_WITH_DB
from paylab.core.event_schemas import EventContractError, validate
from paylab.core.settings import get_settings
from paylab.devstack.stack import DevStack

pytestmark = pytest.mark.stack

SESSION_STARTED = datetime.now(UTC)
SHOWN = 20  # failures listed in full; the rest are counted


def _published_since(started: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    """(schema, row id, payload) of every outbox row created since `started`."""
    url = DevStack(get_settings()).admin_database_url()
    rows: list[tuple[str, str, dict[str, Any]]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        present = {
            schema
            for (schema,) in conn.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox'"
            )
        }
        for schema in SERVICES_WITH_DB:
            if schema not in present:
                continue
            query = (
                f"SELECT id::text, payload FROM {schema}.outbox"  # schema: from a fixed list
                " WHERE created_at >= %s ORDER BY seq"
            )
            rows += [(schema, i, p) for i, p in conn.execute(query, (started,))]
    return rows


def test_every_event_published_in_this_run_matches_its_schema() -> None:
    rows = _published_since(SESSION_STARTED)
    if not rows:
        pytest.skip(f"no event was published since {SESSION_STARTED:%H:%M:%S} UTC")
    checked: Counter[str] = Counter()
    failures: list[str] = []
    for schema, row_id, payload in rows:
        checked[str(payload.get("type"))] += 1
        try:
            validate(payload)
        except EventContractError as broken:
            failures.append(f"{schema}.outbox row {row_id}: {broken}")
    summary = ", ".join(f"{t} {n}" for t, n in sorted(checked.items()))
    assert not failures, (
        f"{len(failures)} of {len(rows)} published events break their contract "
        f"(checked: {summary}):\n" + "\n".join(failures[:SHOWN])
    )
