"""Internal endpoints of the scheduled jobs: weekly report pages, data cleanup, refund
reconciling, and the unsettled late PSE approvals the ops-metrics job counts.

`GET /internal/jobs/payments` pages one merchant's payments created in `[start, end)` by
(created_at, id), so the weekly-report Lambda streams any number of them a page at a time.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.internal_auth import InternalCaller
from paylab.core.isotime import IsoDatetime
from paylab.core.money import fmt
from paylab.core.problems import Problem, problem_responses
from paylab.core.retention import cleanup_router
from paylab.payment import late_approvals, refund_reconcile
from paylab.payment.models import payments
from paylab.payment.partners import PartnerRejected, PartnerUnavailable, unavailable
from paylab.payment.wiring import Svc

MAX_PAGE = 1000


class ReportRow(BaseModel):
    """One payment as the weekly report lists it."""

    id: str
    ref_payco: str
    reference: str
    description: str
    created_at: datetime
    updated_at: datetime
    method: str
    amount: str = Field(examples=["30000.00"])
    currency: str
    status: str
    cod_respuesta: int


class ReportPage(BaseModel):
    """A page of payments, oldest first; `next_cursor` is null on the last page."""

    items: list[ReportRow]
    next_cursor: str | None


def encode_cursor(created_at: datetime, payment_id: str) -> str:
    """An opaque cursor: the last row's sort key."""
    raw = json.dumps([created_at.isoformat(), payment_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The sort key in `cursor`; 422 when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, payment_id = json.loads(raw)
        created_at = datetime.fromisoformat(moment)
        if created_at.tzinfo is None or not isinstance(payment_id, str):
            raise ValueError("not a cursor")
    except (ValueError, TypeError, binascii.Error) as exc:
        raise Problem(
            422,
            "invalid-cursor",
            "The cursor is not one this endpoint returned.",
            errors=[{"field": "query.after", "message": "invalid cursor"}],
        ) from exc
    return created_at, payment_id


def report_page(
    sessions: sessionmaker[Session],
    merchant_id: str,
    start: datetime,
    end: datetime,
    after: str | None,
    limit: int,
) -> ReportPage:
    """The merchant's payments created in [start, end) after the cursor, oldest first."""
    if end <= start:
        raise Problem(
            422,
            "invalid-period",
            "`end` must be after `start`.",
            errors=[{"field": "query.end", "message": "must be after start"}],
        )
    conditions = [
        payments.c.merchant_id == merchant_id,
        payments.c.created_at >= start,
        payments.c.created_at < end,
    ]
    if after is not None:
        created_at, payment_id = decode_cursor(after)
        conditions.append(
            or_(
                payments.c.created_at > created_at,
                and_(payments.c.created_at == created_at, payments.c.id > payment_id),
            )
        )
    query = (
        select(payments)
        .where(*conditions)
        .order_by(tuple_(payments.c.created_at, payments.c.id))
        .limit(limit + 1)  # one more tells whether another page exists
    )
    with sessions() as session:
        rows = session.execute(query).mappings().all()
    items = [
        ReportRow.model_validate({**row, "amount": fmt(row["amount"])}) for row in rows[:limit]
    ]
    last = items[-1] if len(rows) > limit else None
    return ReportPage(
        items=items, next_cursor=encode_cursor(last.created_at, last.id) if last else None
    )


def sessions_of(request: Request) -> sessionmaker[Session]:
    """The payment process's sessions (built on first use)."""
    found: sessionmaker[Session] = request.app.state.services().sessions
    return found


router = APIRouter(tags=["jobs"], responses=problem_responses(400, 401, 404, 422))
router.include_router(cleanup_router("payment"))


@router.get("/internal/jobs/payments", response_model=ReportPage)
def payments_page(
    _: InternalCaller,
    sessions: Annotated[sessionmaker[Session], Depends(sessions_of)],
    merchant_id: Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")],
    start: IsoDatetime,
    end: IsoDatetime,
    after: Annotated[str | None, Query(max_length=400, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 500,
) -> ReportPage:
    """One merchant's payments created in [start, end), a page at a time (weekly report)."""
    return report_page(sessions, merchant_id, start, end, after, limit)


class ReconcileIn(BaseModel):
    """How long a refund must have gone unattempted before it is settled; one payment's only."""

    older_than_s: int = Field(default=600, ge=0, le=30 * 86_400)
    payment_id: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$"
    )


class ReconcileOut(BaseModel):
    """What the run did with each reserved refund it looked at, and how many of each."""

    settled: list[dict[str, str]]
    counts: dict[str, int]


@router.post(
    "/internal/jobs/reconcile-refunds",
    response_model=ReconcileOut,
    responses=problem_responses(503),
)
def reconcile_refunds_job(
    _: InternalCaller, svc: Svc, body: Annotated[ReconcileIn | None, Body()] = None
) -> ReconcileOut:
    """Settle refunds a failed request left reserved (the refund-reconcile job's run)."""
    asked = body or ReconcileIn()
    older_than = timedelta(seconds=asked.older_than_s)
    try:
        settled = refund_reconcile.reconcile_refunds(
            svc, older_than=older_than, payment_id=asked.payment_id
        )
    except (PartnerUnavailable, PartnerRejected) as exc:
        raise unavailable("wallet", exc) from exc
    counts = Counter[str](item.action for item in settled)
    return ReconcileOut(settled=[item.as_dict() for item in settled], counts=dict(counts))


class LateApprovalOut(BaseModel):
    """A PSE approval of a payment the SAGA had ended otherwise, not settled yet."""

    payment_id: str
    merchant_id: str
    amount: str = Field(examples=["45000.00"])
    currency: str
    outcome: str
    pse_transaction_id: str
    confirmed_at: datetime


class LateApprovalsOut(BaseModel):
    """Every unsettled late PSE approval, oldest first (the ops-metrics job counts them)."""

    count: int
    items: list[LateApprovalOut]


@router.get("/internal/jobs/late-approvals", response_model=LateApprovalsOut)
def late_approvals_job(_: InternalCaller, svc: Svc) -> LateApprovalsOut:
    """What `paylab payments late-approvals` lists, for the ops-metrics job's gauge."""
    found = late_approvals.late_approvals(svc)
    items = [LateApprovalOut.model_validate(item.as_dict()) for item in found]
    return LateApprovalsOut(count=len(items), items=items)
