"""The projection rewrites only the columns an event changed, and the row still equals the fold."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from paylab.payment import domain
from paylab.payment.replay import replay
from paylab.payment.repository import new_events
from paylab.payment.wiring import Services

from .conftest import card_body

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def updates(svc: Services) -> Iterator[list[str]]:
    """The UPDATE payments statements the service's engine sends while the test runs."""
    engine = svc.sessions.kw["bind"]
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if re.match(r"\s*UPDATE (\w+\.)?payments ", statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _set_columns(statement: str) -> set[str]:
    clause = statement.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    return set(re.findall(r"(\w+)=", clause))


def test_an_event_rewrites_only_the_columns_it_changed(
    client: TestClient, headers: Headers, svc: Services, updates: list[str]
) -> None:
    response = client.post("/v1/payments", json=card_body(), headers=headers())
    assert response.status_code == 201, response.text
    payment_id = str(response.json()["id"])
    state = svc.repo.get(payment_id)
    assert state is not None

    done = new_events(state.version, [(domain.FAILED, {"status": "failed", "reason": "x"})])
    after = svc.repo.append(state, done)

    assert len(updates) == 1, updates
    columns = _set_columns(updates[0])
    changed = {name for name, value in after.as_dict().items() if state.as_dict()[name] != value}
    assert "version" in columns and "status" in columns
    assert columns <= changed | {"cod_respuesta"}
    assert not columns & {"customer", "amount", "merchant_id", "card_token"}
    assert replay(svc.repo, payment_id).matches
