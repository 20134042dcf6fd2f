"""A DBA who tampers with the log is found out by `verify`, at the row they touched.

The shared chain must stay intact for every other test and feature, so tampering happens on
`chain_copy`: tables created LIKE audit's (same constraints and indexes, same append-only
trigger), filled by the unchanged service through a schema_translate_map, and dropped at
the end. The DBA tampers the way the real table allows: as its owner, disabling the trigger
first, or bypassing triggers altogether with session_replication_role.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paylab.audit.app import create
from paylab.audit.service import AuditService
from paylab.core.internal_auth import HEADER, internal_credential

from .conftest import SETTINGS, ChainCopy, as_merchant, event, uid


def fill(copy: ChainCopy, n: int, merchant: str) -> list[str]:
    events = [event(uid("pay"), merchant) for _ in range(n)]
    assert all(copy.service.record(e) for e in events)
    return [e.id for e in events]


def test_a_changed_row_is_reported(admin: Engine, chain_copy: ChainCopy) -> None:
    ids = fill(chain_copy, 12, uid("merchant"))
    assert chain_copy.service.verify().ok
    chain_copy.execute(admin, "ALTER TABLE {s}.events DISABLE TRIGGER events_append_only")
    chain_copy.execute(
        admin,
        "UPDATE {s}.events SET content = replace(content, '30000.00', '300.00') WHERE seq = 7",
    )
    chain_copy.execute(admin, "ALTER TABLE {s}.events ENABLE TRIGGER events_append_only")
    result = chain_copy.service.verify()
    assert not result.ok
    assert result.first_broken is not None
    assert (result.first_broken.seq, result.first_broken.event_id) == (7, ids[6])
    assert "content_hash" in result.first_broken.reason
    assert result.rows_checked == 7


def test_a_row_rehashed_to_match_breaks_the_next_link(admin: Engine, chain_copy: ChainCopy) -> None:
    ids = fill(chain_copy, 6, uid("merchant"))
    # A careful DBA recomputes the row's own hashes; the next row still names the old one.
    chain_copy.execute(
        admin,
        """
        SET LOCAL session_replication_role = replica;
        UPDATE {s}.events SET
            content = replace(content, '30000.00', '300.00'),
            content_hash = sha256(convert_to(replace(content, '30000.00', '300.00'), 'UTF8'))
        WHERE seq = 3;
        UPDATE {s}.events SET row_hash = sha256(prev_hash || content_hash || int8send(seq))
        WHERE seq = 3;
        """,
    )
    result = chain_copy.service.verify()
    assert result.first_broken is not None
    assert (result.first_broken.seq, result.first_broken.event_id) == (4, ids[3])
    assert "prev_hash" in result.first_broken.reason


@pytest.mark.parametrize(("where", "broken_seq"), [("seq = 2", 3), ("seq = 5", 5)])
def test_deleted_rows_are_reported(
    admin: Engine, chain_copy: ChainCopy, where: str, broken_seq: int
) -> None:
    fill(chain_copy, 5, uid("merchant"))
    chain_copy.execute(
        admin,
        f"SET LOCAL session_replication_role = replica; DELETE FROM {{s}}.events WHERE {where}",
    )
    result = chain_copy.service.verify()
    assert not result.ok
    assert result.first_broken is not None and result.first_broken.seq == broken_seq


def test_moving_a_row_to_another_merchant_is_reported(admin: Engine, chain_copy: ChainCopy) -> None:
    fill(chain_copy, 4, uid("merchant"))
    chain_copy.execute(
        admin,
        "SET LOCAL session_replication_role = replica;"
        " UPDATE {s}.events SET merchant_id = 'someone-else' WHERE seq = 2",
    )
    result = chain_copy.service.verify()
    assert result.first_broken is not None
    assert (result.first_broken.seq, result.first_broken.reason) == (
        2,
        "column merchant_id differs from the content",
    )


def test_the_api_reports_the_break_and_hides_other_merchants_event_ids(
    admin: Engine, chain_copy: ChainCopy
) -> None:
    owner, other = uid("merchant"), uid("merchant")
    ids = fill(chain_copy, 3, owner)
    chain_copy.execute(
        admin,
        "SET LOCAL session_replication_role = replica;"
        " UPDATE {s}.events SET content = replace(content, 'COP', 'USD') WHERE seq = 2",
    )
    with TestClient(create(engine=chain_copy.engine, settings=SETTINGS)) as client:
        client.headers.update({HEADER: internal_credential()})
        operator = client.get("/internal/audit/verify").json()
        mine = client.get("/v1/audit/verify", headers=as_merchant(owner)).json()
        theirs = client.get("/v1/audit/verify", headers=as_merchant(other)).json()
    expected = {"seq": 2, "event_id": ids[1], "reason": "content does not match content_hash"}
    assert operator == {"ok": False, "rows_checked": 2, "first_broken": expected}
    assert mine == operator
    assert theirs == {**operator, "first_broken": {**expected, "event_id": None}}


def test_merchants_reuse_a_recent_walk_operators_always_walk(
    admin: Engine, chain_copy: ChainCopy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each walk reads every merchant's rows: a merchant cannot make the service walk the
    whole chain at its request rate."""
    owner = uid("merchant")
    fill(chain_copy, 2, owner)
    service = AuditService(
        chain_copy.engine, SETTINGS.model_copy(update={"verify_reuse_seconds": 60})
    )
    walks: list[int] = []
    real = service._walk

    def counted() -> Any:
        walks.append(1)
        return real()

    monkeypatch.setattr(service, "_walk", counted)
    first = [service.verify(viewer=owner) for _ in range(5)]
    assert len(walks) == 1 and first[0].ok and first[-1] == first[0]
    chain_copy.execute(
        admin,
        "SET LOCAL session_replication_role = replica;"
        " UPDATE {s}.events SET content = replace(content, 'COP', 'USD') WHERE seq = 1",
    )
    assert not service.verify().ok and len(walks) == 2  # an operator walks at once
    assert not service.verify(viewer=owner).ok and len(walks) == 2  # ... and merchants see it
