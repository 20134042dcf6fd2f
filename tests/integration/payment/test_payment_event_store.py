"""The event store's version guard, the projection's catch-up, and `payments replay`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from paylab.payment import domain
from paylab.payment.cli import register
from paylab.payment.event_store import VersionConflict
from paylab.payment.replay import replay
from paylab.payment.repository import new_events
from paylab.payment.wiring import Services

from .conftest import card_body, outbox_types

Headers = Callable[..., dict[str, str]]


def create(client: TestClient, headers: Headers) -> str:
    response = client.post("/v1/payments", json=card_body(), headers=headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_two_writers_cannot_take_the_same_version(
    client: TestClient, headers: Headers, svc: Services
) -> None:
    payment_id = create(client, headers)
    state = svc.repo.get(payment_id)
    assert state is not None
    first = new_events(1, [(domain.COMPLETED, {"status": "approved", "reason": None})])
    second = new_events(1, [(domain.FAILED, {"status": "failed", "reason": "x"})])
    svc.repo.append(state, first)
    with pytest.raises(VersionConflict):
        svc.repo.append(state, second)
    assert [e.type for e in svc.repo.store.load(payment_id)] == [domain.CREATED, domain.COMPLETED]
    assert replay(svc.repo, payment_id).matches


def test_a_row_behind_its_stream_is_caught_up_with_its_outbox_rows(
    client: TestClient, headers: Headers, internal_headers: dict[str, str], svc: Services
) -> None:
    payment_id = create(client, headers)
    # A writer that crashed between its DynamoDB append and its Postgres transaction:
    svc.repo.store.append(
        payment_id, new_events(1, [(domain.COMPLETED, {"status": "approved", "reason": None})])
    )
    behind = replay(svc.repo, payment_id)
    assert not behind.matches and "version" in behind.differences
    # The SAGA's next write hits the version guard, catches up and sees the outcome.
    again = client.post(
        f"/internal/payments/{payment_id}/outcome",
        json={"status": "approved"},
        headers=internal_headers,
    )
    assert again.status_code == 200 and again.json()["version"] == 2
    assert replay(svc.repo, payment_id).matches
    assert "PaymentCompleted" in outbox_types(svc, payment_id)
    conflict = client.post(
        f"/internal/payments/{payment_id}/outcome",
        json={"status": "failed"},
        headers=internal_headers,
    )
    assert conflict.status_code == 409


def test_replay_cli_says_whether_the_row_matches(
    client: TestClient, headers: Headers, svc: Services
) -> None:
    payment_id = create(client, headers)
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    ok = runner.invoke(app, ["payments", "replay", payment_id])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output and payment_id in ok.output
    with svc.sessions() as session, session.begin():
        session.execute(
            text("UPDATE payment.payments SET status = 'approved' WHERE id = :id"),
            {"id": payment_id},
        )
    bad = runner.invoke(app, ["payments", "replay", payment_id])
    assert bad.exit_code == 1
    assert "MISMATCH" in bad.output and "status" in bad.output
    svc.repo.store.append(
        payment_id, new_events(1, [(domain.FAILED, {"status": "failed", "reason": "x"})])
    )
    with svc.sessions() as session, session.begin():
        session.execute(
            text("UPDATE payment.payments SET status = 'pending' WHERE id = :id"),
            {"id": payment_id},
        )
    repaired = runner.invoke(app, ["payments", "replay", payment_id, "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert '"status": "failed"' in repaired.output
    missing = runner.invoke(app, ["payments", "replay", "no-such-payment"])
    assert missing.exit_code == 1
