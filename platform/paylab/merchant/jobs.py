"""Internal endpoints of the scheduled jobs (daily summaries, weekly reports, data cleanup).

Called by the Lambdas of the `daily-summary`, `weekly-report` and `data-cleanup` rules with
the internal credential; the use cases are in merchant/job_events.py.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.internal_auth import InternalCaller
from paylab.core.isotime import IsoDate, IsoDatetime
from paylab.core.problems import problem_responses
from paylab.core.retention import cleanup_router
from paylab.merchant import job_events

MerchantCursor = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]


class MerchantItem(BaseModel):
    """An active merchant and where its reports go."""

    id: str
    email: str


class MerchantPage(BaseModel):
    """A page of active merchants, by id; `next_cursor` is null on the last page."""

    items: list[MerchantItem]
    next_cursor: str | None


class DailySummariesIn(BaseModel):
    """Request the summaries of `business_date` for one page of merchants."""

    business_date: IsoDate
    scheduled_at: IsoDatetime | None = Field(
        default=None, description="The schedule's time (EventBridge `time`)."
    )
    after: MerchantCursor | None = None
    limit: int = Field(default=200, ge=1, le=1000)


class DailySummariesOut(BaseModel):
    """What one page did: `already_requested` were sent by an earlier run."""

    business_date: date
    merchants: int
    requested: int
    already_requested: int
    next_cursor: str | None


class WeeklyReportIn(BaseModel):
    """A weekly CSV the Lambda stored: tell the merchant where to download it."""

    merchant_id: MerchantCursor
    week: str = Field(pattern=r"^[0-9]{4}-W[0-9]{2}$", examples=["2026-W49"])
    period_start: IsoDate
    period_end: IsoDate
    payments: int = Field(ge=0)
    object_key: str = Field(min_length=1, max_length=1024, pattern=r"^reports/[^\x00-\x1f]+$")
    url: str = Field(min_length=1, max_length=4096, pattern=r"^https?://[^\s]+$")
    url_expires_at: IsoDatetime

    @model_validator(mode="after")
    def _one_week(self) -> WeeklyReportIn:
        if self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        return self


class WeeklyReportOut(BaseModel):
    """`announced` is false when an earlier run already mailed this week's link."""

    event_id: str
    announced: bool


def sessions_of(request: Request) -> sessionmaker[Session]:
    """The merchant process's sessions (built on first use)."""
    found: sessionmaker[Session] = request.app.state.runtime().sessions
    return found


Sessions = Annotated[sessionmaker[Session], Depends(sessions_of)]

router = APIRouter(tags=["jobs"], responses=problem_responses(400, 401, 404, 422))
router.include_router(cleanup_router("merchant"))


@router.get("/internal/jobs/merchants", response_model=MerchantPage)
def merchants(
    _: InternalCaller,
    sessions: Sessions,
    after: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> MerchantPage:
    """Active merchants, a page at a time (the weekly report walks them)."""
    page, cursor = job_events.merchants_page(sessions, after, limit)
    return MerchantPage(
        items=[MerchantItem(id=m.id, email=m.email) for m in page], next_cursor=cursor
    )


@router.post("/internal/jobs/daily-summaries", response_model=DailySummariesOut)
def daily_summaries(
    _: InternalCaller, sessions: Sessions, body: DailySummariesIn
) -> DailySummariesOut:
    """One DailySummaryRequested per active merchant of the page, once per business date."""
    run = job_events.request_daily_summaries(
        sessions, body.business_date, body.scheduled_at, body.after, body.limit
    )
    return DailySummariesOut(
        business_date=body.business_date,
        merchants=run.merchants,
        requested=run.requested,
        already_requested=run.already_requested,
        next_cursor=run.next_cursor,
    )


@router.post("/internal/jobs/weekly-reports", response_model=WeeklyReportOut)
def weekly_report(_: InternalCaller, sessions: Sessions, body: WeeklyReportIn) -> WeeklyReportOut:
    """Mail the merchant its weekly report link (WeeklyReportReady), once per week."""
    report = job_events.WeeklyReport(**body.model_dump())
    sent = job_events.announce_weekly_report(sessions, report)
    announced_id = sent or job_events.event_id(
        job_events.WEEKLY_REPORT, body.merchant_id, body.week
    )
    return WeeklyReportOut(event_id=announced_id, announced=sent is not None)
