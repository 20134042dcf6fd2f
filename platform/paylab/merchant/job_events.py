"""Use cases of the scheduled jobs the merchant service answers (routes in merchant/jobs.py).

The merchant service owns the list of merchants and their e-mail addresses, so it emits the
daily-summary and weekly-report events, through its outbox, to notification's queue. Each
event's id is derived from (type, merchant, day or week): a second run of a job finds the
row already there and emits nothing, and notification (UNIQUE event id and channel) would
not send it twice even after the outbox row is cleaned up (docs/retention.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import unit_of_work
from paylab.core.events import Envelope
from paylab.core.outbox import add_event
from paylab.core.problems import Problem
from paylab.merchant.models import Merchant

SOURCE = "paylab.merchant"
TIMEZONE = "America/Bogota"
DAILY_SUMMARY = "DailySummaryRequested"
WEEKLY_REPORT = "WeeklyReportReady"
DESTINATIONS = ("sqs:notification-ops",)
# Fixed namespace: the same (type, merchant, period) gives the same event id forever.
_NAMESPACE = uuid.UUID("4f1d2a0c-7b7e-5f0e-9a51-6a1b0c3d7e21")


def _utc(moment: datetime) -> str:
    """RFC 3339 in UTC with `Z`, as the contracts' timestamps are."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_id(event_type: str, merchant_id: str, period: str) -> str:
    """The deterministic id of a job's event for one merchant and one day or week."""
    return str(uuid.uuid5(_NAMESPACE, f"{event_type}/{merchant_id}/{period}"))


@dataclass(frozen=True)
class MerchantRef:
    """Who a job works for."""

    id: str
    email: str


@dataclass(frozen=True)
class SummaryRun:
    """One page of a daily-summary run."""

    merchants: int
    requested: int
    already_requested: int
    next_cursor: str | None


def active_merchants(session: Session, after: str | None, limit: int) -> list[MerchantRef]:
    """Active merchants ordered by id, after the cursor (the last id seen)."""
    query = select(Merchant.id, Merchant.email).where(Merchant.status == "active")
    if after is not None:
        query = query.where(Merchant.id > after)
    rows = session.execute(query.order_by(Merchant.id).limit(limit)).all()
    return [MerchantRef(row.id, row.email) for row in rows]


def merchants_page(
    sessions: sessionmaker[Session], after: str | None, limit: int
) -> tuple[list[MerchantRef], str | None]:
    """A page of active merchants and the cursor of the next one (None at the end)."""
    with sessions() as session:
        page = active_merchants(session, after, limit + 1)
    return page[:limit], page[limit - 1].id if len(page) > limit else None


def _emit_once(session: Session, event: Envelope) -> bool:
    """Queue `event` unless its id is already in the outbox; True when queued now."""
    seen = session.execute(
        text("SELECT 1 FROM merchant.outbox WHERE id = CAST(:id AS uuid)"), {"id": event.id}
    ).first()
    if seen is not None:
        return False
    try:
        # A savepoint: a concurrent run that inserted the same id first costs only this row.
        with session.begin_nested():
            add_event(session, "merchant", event, DESTINATIONS)
    except IntegrityError:
        return False
    return True


def daily_summary_event(
    merchant: MerchantRef, business_date: date, scheduled_at: datetime | None
) -> Envelope:
    """The `DailySummaryRequested` of one merchant and business date (always the same id)."""
    data: dict[str, str] = {
        "merchant_id": merchant.id,
        "merchant_email": merchant.email,
        "business_date": business_date.isoformat(),
        "timezone": TIMEZONE,
    }
    if scheduled_at is not None:
        data["scheduled_at"] = _utc(scheduled_at)
    return Envelope(
        id=event_id(DAILY_SUMMARY, merchant.id, business_date.isoformat()),
        type=DAILY_SUMMARY,
        source=SOURCE,
        subject_id=merchant.id,
        correlation_id=f"daily-summary:{business_date.isoformat()}",
        data=data,
    )


def request_daily_summaries(
    sessions: sessionmaker[Session],
    business_date: date,
    scheduled_at: datetime | None,
    after: str | None,
    limit: int,
) -> SummaryRun:
    """One `DailySummaryRequested` per active merchant of the page, once per business date."""
    with unit_of_work(sessions) as session:
        page = active_merchants(session, after, limit + 1)
        more = len(page) > limit
        page = page[:limit]
        requested = 0
        for merchant in page:
            event = daily_summary_event(merchant, business_date, scheduled_at)
            requested += _emit_once(session, event)
    return SummaryRun(
        merchants=len(page),
        requested=requested,
        already_requested=len(page) - requested,
        next_cursor=page[-1].id if more else None,
    )


@dataclass(frozen=True)
class WeeklyReport:
    """A merchant's weekly CSV, stored by the weekly-report Lambda."""

    merchant_id: str
    week: str
    period_start: date
    period_end: date
    payments: int
    object_key: str
    url: str
    url_expires_at: datetime


def weekly_report_event(merchant: MerchantRef, report: WeeklyReport) -> Envelope:
    """The `WeeklyReportReady` of one merchant and week (always the same id)."""
    return Envelope(
        id=event_id(WEEKLY_REPORT, merchant.id, report.week),
        type=WEEKLY_REPORT,
        source=SOURCE,
        subject_id=merchant.id,
        correlation_id=f"weekly-report:{report.week}",
        data={
            "merchant_id": merchant.id,
            "merchant_email": merchant.email,
            "week": report.week,
            "period_start": report.period_start.isoformat(),
            "period_end": report.period_end.isoformat(),
            "timezone": TIMEZONE,
            "payments": report.payments,
            "object_key": report.object_key,
            "url": report.url,
            "url_expires_at": _utc(report.url_expires_at),
        },
    )


def announce_weekly_report(sessions: sessionmaker[Session], report: WeeklyReport) -> str | None:
    """Queue `WeeklyReportReady` for the merchant once per week; its id, or None if sent before."""
    with unit_of_work(sessions) as session:
        merchant = session.get(Merchant, report.merchant_id)
        if merchant is None or merchant.status != "active":
            raise Problem(404, "merchant-not-found", f"No active merchant {report.merchant_id}.")
        event = weekly_report_event(MerchantRef(merchant.id, merchant.email), report)
        return event.id if _emit_once(session, event) else None
