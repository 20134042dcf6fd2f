"""The daily-summary Lambda, invoked like EventBridge does: one e-mail per merchant and day."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

from paylab.merchant.job_events import event_id

from ..waiting import wait_until
from .conftest import invoke

# 01:00 in Bogota on 5 December: the summary of 4 December.
RUN_AT = "2026-12-05T06:00:00Z"


def outbox_rows(engine: Engine, event: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT payload, destinations FROM merchant.outbox WHERE id = CAST(:id AS uuid)"),
            {"id": event},
        )
        return [dict(row._mapping) for row in rows]


def sent(engine: Engine, event: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT channel, recipient, template, status, subject FROM"
                " notification.notifications WHERE event_id = :id"
            ),
            {"id": event},
        )
        return [dict(row._mapping) for row in rows]


def test_a_summary_is_requested_and_mailed_once_even_when_the_job_runs_twice(
    active_merchant: Callable[[], tuple[str, str]], engines: dict[str, Engine]
) -> None:
    merchant_id, email = active_merchant()
    expected = event_id("DailySummaryRequested", merchant_id, "2026-12-04")

    first = invoke("DailySummaryFunctionArn", RUN_AT, "daily-summary")
    second = invoke("DailySummaryFunctionArn", RUN_AT, "daily-summary")

    assert first["business_date"] == second["business_date"] == "2026-12-04"
    assert first["requested"] >= 1
    assert second["already_requested"] >= 1
    [row] = outbox_rows(engines["merchant"], expected)
    assert row["destinations"] == ["sqs:notification-ops"]
    data = row["payload"]["data"]
    assert (data["merchant_id"], data["merchant_email"]) == (merchant_id, email)
    assert (data["business_date"], data["scheduled_at"]) == ("2026-12-04", RUN_AT)

    [message] = wait_until(
        lambda: [m for m in sent(engines["notification"], expected) if m["status"] != "sending"],
        timeout=30,
        description="the summary e-mail",
    )
    assert (message["channel"], message["recipient"]) == ("email", email)
    assert (message["template"], message["status"]) == ("daily_summary", "sent")
    assert message["subject"].startswith("Resumen del 4 de diciembre de 2026")
    assert len(sent(engines["notification"], expected)) == 1
