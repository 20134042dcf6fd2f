"""The jobs' events: built by the merchant service's own code, valid, deterministic, rendered."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from paylab.core.event_schemas import validate
from paylab.core.events import Envelope
from paylab.core.problems import Problem, install_problem_handlers
from paylab.merchant import job_events
from paylab.merchant.job_events import MerchantRef, WeeklyReport
from paylab.notification.messages import compose
from paylab.payment import jobs as payment_jobs

MERCHANT = MerchantRef("mch_0123456789abcdef", "pagos@tienda.co")
REPORT = WeeklyReport(
    merchant_id=MERCHANT.id,
    week="2026-W49",
    period_start=date(2026, 11, 30),
    period_end=date(2026, 12, 6),
    payments=42,
    object_key=f"reports/{MERCHANT.id}/2026-W49.csv",
    url="http://127.0.0.1:4566/paylab-reports/reports/x.csv?X-Amz-Signature=abc",
    url_expires_at=datetime(2026, 12, 14, 6, 0, 1, 123456, tzinfo=UTC),
)


def wire(event: Envelope) -> dict[str, object]:
    payload: dict[str, object] = json.loads(event.to_json())
    return payload


def test_daily_summary_requests_match_their_contract() -> None:
    scheduled = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    validate(wire(job_events.daily_summary_event(MERCHANT, date(2026, 12, 4), scheduled)))
    validate(wire(job_events.daily_summary_event(MERCHANT, date(2026, 12, 4), None)))


def test_weekly_reports_match_their_contract() -> None:
    validate(wire(job_events.weekly_report_event(MERCHANT, REPORT)))


def test_one_event_id_per_merchant_and_period() -> None:
    day = date(2026, 12, 4)
    first = job_events.daily_summary_event(MERCHANT, day, None)
    again = job_events.daily_summary_event(MERCHANT, day, datetime.now(UTC))
    other_day = job_events.daily_summary_event(MERCHANT, date(2026, 12, 5), None)
    other_merchant = job_events.daily_summary_event(MerchantRef("mch_2", "a@b.co"), day, None)
    assert first.id == again.id
    assert len({first.id, other_day.id, other_merchant.id}) == 3
    report = job_events.weekly_report_event(MERCHANT, REPORT)
    assert report.id == job_events.event_id("WeeklyReportReady", MERCHANT.id, "2026-W49")
    assert report.id not in {first.id, other_day.id}


def test_notification_mails_the_weekly_report_link() -> None:
    [draft] = compose(job_events.weekly_report_event(MERCHANT, REPORT))
    assert draft.recipient == MERCHANT.email
    assert draft.template == "weekly_report"
    assert draft.subject == (
        "Reporte semanal del 30 de noviembre de 2026 al 6 de diciembre de 2026: 42 pagos"
    )
    assert REPORT.url in draft.body
    assert "14/12/2026 01:00" in draft.body  # the link's expiry, Bogota time


def test_payment_cursors_round_trip_and_foreign_ones_are_422() -> None:
    moment = datetime(2026, 12, 1, 15, 30, 0, 250000, tzinfo=UTC)
    cursor = payment_jobs.encode_cursor(moment, "pay_1")
    assert payment_jobs.decode_cursor(cursor) == (moment, "pay_1")
    for bad in ("not-base64!", "bm90IGpzb24", payment_jobs.encode_cursor(moment, "x")[:-4]):
        with pytest.raises(Problem) as caught:
            payment_jobs.decode_cursor(bad)
        assert caught.value.status == 422


def test_the_payments_page_refuses_bad_input_with_problems() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(payment_jobs.router)
    # The internal credential is checked first: without it, 401 (never a 500).
    client = TestClient(app)
    answer = client.get("/internal/jobs/payments", params={"merchant_id": "m"})
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
