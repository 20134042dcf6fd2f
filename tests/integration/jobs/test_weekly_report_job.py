"""The weekly-report Lambda: the CSV of last week's payments in S3, mailed as a link, once."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine, text

from paylab.core.aws import client
from paylab.core.stack_outputs import output
from paylab.merchant.job_events import event_id

from ..waiting import wait_until
from .conftest import invoke

# Monday 7 December 2026, 01:00 in Bogota: the week of 30 November to 6 December.
RUN_AT = "2026-12-07T06:00:00Z"
WEEK = "2026-W49"


@pytest.fixture
def s3_keys() -> Iterator[list[str]]:
    keys: list[str] = []
    yield keys
    for key in keys:
        client("s3").delete_object(Bucket=output("ReportsBucketName"), Key=key)


def test_the_report_holds_exactly_the_bogota_week_and_is_mailed_once(
    active_merchant: Callable[[], tuple[str, str]],
    payment_rows: Callable[..., str],
    engines: dict[str, Engine],
    s3_keys: list[str],
) -> None:
    merchant_id, email = active_merchant()
    key = f"reports/{merchant_id}/{WEEK}.csv"
    s3_keys.append(key)
    # Bogota is UTC-5: the week runs from 05:00 UTC Monday to 05:00 UTC the next Monday.
    payment_rows(merchant_id, datetime(2026, 11, 30, 4, 59, 59, tzinfo=UTC))  # Sunday before
    inside = [
        payment_rows(merchant_id, datetime(2026, 11, 30, 5, 0, 0, tzinfo=UTC)),
        payment_rows(
            merchant_id,
            datetime(2026, 12, 3, 18, 0, tzinfo=UTC),
            reference="=cmd()",
            status="rejected",
            cod_respuesta=2,
        ),
        payment_rows(merchant_id, datetime(2026, 12, 7, 4, 59, 59, tzinfo=UTC)),
    ]
    payment_rows(merchant_id, datetime(2026, 12, 7, 5, 0, 0, tzinfo=UTC))  # next Monday

    first = invoke("WeeklyReportFunctionArn", RUN_AT, "weekly-report")
    second = invoke("WeeklyReportFunctionArn", RUN_AT, "weekly-report")
    assert first["week"] == second["week"] == WEEK

    stored = client("s3").get_object(Bucket=output("ReportsBucketName"), Key=key)
    rows = list(csv.reader(io.StringIO(stored["Body"].read().decode("utf-8"))))
    assert rows[0][:5] == ["payment_id", "ref_payco", "reference", "description", "created_at"]
    assert [r[0] for r in rows[1:]] == inside
    assert rows[1][4] == "2026-11-30T00:00:00-05:00"
    assert rows[2][2] == "'=cmd()" and rows[2][8:] == ["rejected", "2"]

    announced = event_id("WeeklyReportReady", merchant_id, WEEK)
    with engines["merchant"].connect() as conn:
        payloads = (
            conn.execute(
                text("SELECT payload FROM merchant.outbox WHERE id = CAST(:id AS uuid)"),
                {"id": announced},
            )
            .scalars()
            .all()
        )
    [payload] = payloads  # the second run announced nothing
    data = payload["data"]
    assert (data["merchant_email"], data["object_key"], data["payments"]) == (email, key, 3)
    downloaded = httpx.get(data["url"], timeout=10)
    assert downloaded.status_code == 200
    assert [r[0] for r in list(csv.reader(io.StringIO(downloaded.text)))[1:]] == inside

    def mail() -> list[tuple[str, str, str]]:
        with engines["notification"].connect() as conn:
            found = conn.execute(
                text(
                    "SELECT recipient, status, body FROM notification.notifications"
                    " WHERE event_id = :id AND status <> 'sending'"
                ),
                {"id": announced},
            )
            return [tuple(r) for r in found]

    [(recipient, status, body)] = wait_until(mail, timeout=30, description="the report e-mail")
    assert (recipient, status) == (email, "sent")
    assert data["url"] in body
