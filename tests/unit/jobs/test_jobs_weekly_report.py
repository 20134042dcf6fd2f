"""The weekly report Lambda without I/O: its week in Bogota, its CSV, its calls."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import pytest

from paylab.lambdas import weekly_report
from paylab.lambdas.weekly_report import Week, csv_row, last_full_week, report_week, write_csv


def scheduled(time: str) -> dict[str, Any]:
    """EventBridge's scheduled event; only `time` matters."""
    return {
        "version": "0",
        "id": "e1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": time,
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/paylab-weekly-report"],
        "detail": {},
    }


def payment(**overrides: Any) -> dict[str, Any]:
    row = {
        "id": "pay_1",
        "ref_payco": "100000001",
        "reference": "order-1",
        "description": "Camisa, talla M",
        "created_at": "2026-12-01T15:30:00Z",
        "updated_at": "2026-12-01T15:30:05Z",
        "method": "card",
        "amount": "30000.00",
        "currency": "COP",
        "status": "approved",
        "cod_respuesta": 1,
    }
    return row | overrides


def test_the_monday_run_reports_the_week_that_just_ended_in_bogota() -> None:
    # cron(0 6 ? * MON *): Monday 7 December 2026 01:00 in Bogota.
    week = report_week(scheduled("2026-12-07T06:00:00Z"))
    assert (week.monday, week.sunday) == (date(2026, 11, 30), date(2026, 12, 6))
    assert week.label == "2026-W49"


def test_a_run_before_bogota_midnight_on_sunday_reports_the_week_before() -> None:
    # 04:59 UTC Monday is still Sunday 23:59 in Bogota: that week is not over yet.
    week = report_week(scheduled("2026-12-07T04:59:00Z"))
    assert (week.monday, week.sunday) == (date(2026, 11, 23), date(2026, 11, 29))


@pytest.mark.parametrize(
    ("day", "monday"),
    [
        (date(2026, 12, 6), date(2026, 11, 30)),  # a Sunday ends its own week
        (date(2026, 12, 5), date(2026, 11, 23)),  # a Saturday: the previous full week
        (date(2026, 12, 7), date(2026, 11, 30)),  # a Monday: the week that ended yesterday
    ],
)
def test_last_full_week_ends_on_a_sunday_on_or_before_the_day(day: date, monday: date) -> None:
    week = last_full_week(day)
    assert week.monday == monday
    assert week.sunday.weekday() == 6 and (week.sunday - week.monday).days == 6


def test_week_bounds_are_bogota_midnights_in_utc() -> None:
    start, end = Week(date(2026, 11, 30), date(2026, 12, 6)).bounds()
    assert start == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def test_iso_week_labels_follow_the_iso_year() -> None:
    assert Week(date(2026, 12, 28), date(2027, 1, 3)).label == "2026-W53"
    assert Week(date(2027, 1, 4), date(2027, 1, 10)).label == "2027-W01"


def test_the_object_key_is_the_same_on_every_run_and_escapes_the_merchant() -> None:
    week = Week(date(2026, 11, 30), date(2026, 12, 6))
    assert weekly_report.object_key("mch_1", week) == "reports/mch_1/2026-W49.csv"
    assert weekly_report.object_key("a/b", week) == "reports/a%2Fb/2026-W49.csv"


def test_a_row_shows_bogota_time_and_keeps_text_as_text() -> None:
    row = csv_row(payment(reference="=HYPERLINK(1)", description="+1 555", amount="12.50"))
    assert row[4] == "2026-12-01T10:30:00-05:00"
    assert row[2] == "'=HYPERLINK(1)"
    assert row[3] == "'+1 555"
    assert row[6] == "12.50"


def test_the_csv_streams_every_page_under_one_header() -> None:
    out = io.BytesIO()
    pages = [[payment(id="p1"), payment(id="p2")], [], [payment(id="p3", description='a "b", c')]]
    assert write_csv(out, iter(pages)) == 3
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8"))))
    assert rows[0] == list(weekly_report.COLUMNS)
    assert [r[0] for r in rows[1:]] == ["p1", "p2", "p3"]
    assert rows[3][3] == 'a "b", c'


def test_an_empty_week_is_a_header_only_csv() -> None:
    out = io.BytesIO()
    assert write_csv(out, iter([[]])) == 0
    assert out.getvalue().decode() == ",".join(weekly_report.COLUMNS) + "\r\n"


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def upload_fileobj(self, body: Any, bucket: str, key: str, ExtraArgs: Any) -> None:
        self.objects[f"{bucket}/{key}"] = body.read()

    def generate_presigned_url(self, _op: str, Params: Any, ExpiresIn: int) -> str:
        return f"http://s3.test/{Params['Bucket']}/{Params['Key']}?expires={ExpiresIn}"


def test_the_handler_pages_merchants_and_payments_and_announces_each_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, str, str, Any]] = []
    pages = {None: {"items": [payment(id="p1")], "next_cursor": "c1"}}
    pages["c1"] = {"items": [payment(id="p2")], "next_cursor": None}

    def call(service: str, method: str, path: str, body: Any = None) -> Any:
        calls.append((service, method, path, body))
        if path.startswith("/internal/jobs/merchants"):
            return {"items": [{"id": "mch_1", "email": "a@b.co"}], "next_cursor": None}
        if path.startswith("/internal/jobs/payments"):
            return pages["c1" if "after=c1" in path else None]
        return {"event_id": "x", "announced": True}

    monkeypatch.setattr(weekly_report, "call", call)
    monkeypatch.setenv("PAYLAB_REPORTS_BUCKET", "paylab-reports")
    s3 = FakeS3()
    result = weekly_report.handler(scheduled("2026-12-07T06:00:00Z"), None, s3=s3)

    assert result == {
        "job": "weekly-report",
        "week": "2026-W49",
        "bucket": "paylab-reports",
        "reports": 1,
        "announced": 1,
        "rows": 2,
    }
    stored = s3.objects["paylab-reports/reports/mch_1/2026-W49.csv"].decode().splitlines()
    assert [line.split(",")[0] for line in stored[1:]] == ["p1", "p2"]
    payment_paths = [c[2] for c in calls if c[0] == "payment"]
    assert "start=2026-11-30T05%3A00%3A00%2B00%3A00" in payment_paths[0]
    assert "end=2026-12-07T05%3A00%3A00%2B00%3A00" in payment_paths[0]
    [announce] = [c[3] for c in calls if c[2] == "/internal/jobs/weekly-reports"]
    assert announce["object_key"] == "reports/mch_1/2026-W49.csv"
    assert (announce["period_start"], announce["period_end"]) == ("2026-11-30", "2026-12-06")
    assert announce["payments"] == 2
    assert announce["url"].startswith("http://s3.test/paylab-reports/reports/mch_1/")


def test_one_merchant_failing_does_not_stop_the_others_but_fails_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    announced: list[str] = []

    def call(service: str, method: str, path: str, body: Any = None) -> Any:
        if path.startswith("/internal/jobs/merchants"):
            items = [{"id": "bad", "email": "a@b.co"}, {"id": "good", "email": "c@d.co"}]
            return {"items": items, "next_cursor": None}
        if path.startswith("/internal/jobs/payments"):
            if "merchant_id=bad" in path:
                raise RuntimeError("payment service down")
            return {"items": [], "next_cursor": None}
        announced.append(body["merchant_id"])
        return {"event_id": "x", "announced": True}

    monkeypatch.setattr(weekly_report, "call", call)
    monkeypatch.setenv("PAYLAB_REPORTS_BUCKET", "b")
    with pytest.raises(RuntimeError, match="1 merchant"):
        weekly_report.handler(scheduled("2026-12-07T06:00:00Z"), None, s3=FakeS3())
    assert announced == ["good"]
