"""HTTP entrypoints: parse, call one use case, return its answer (no SQL, no rules here)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from paylab.audit import schemas
from paylab.audit.service import AuditService
from paylab.core.internal_auth import InternalCaller, MerchantId
from paylab.core.problems import problem_responses


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return problem_responses(401, *statuses)


async def audit_service(request: Request) -> AuditService:
    """The app's service (built on first use, so the app starts without a database)."""
    service: AuditService = await request.app.state.audit.ready()
    return service


Service = Annotated[AuditService, Depends(audit_service)]
# Printable text only: a NUL or control character is a 422 here, not a database error.
SubjectId = Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]

public = APIRouter(tags=["audit"])
internal = APIRouter(prefix="/internal", tags=["internal"])


@public.get("/v1/audit/events", response_model=schemas.EventPage, responses=_problems(422))
def list_events(
    _: InternalCaller,
    merchant_id: MerchantId,
    subject_id: SubjectId,
    service: Service,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^[1-9][0-9]{0,17}$")] = None,
) -> schemas.EventPage:
    """The merchant's events about one subject (a payment, an account), oldest first."""
    after = int(cursor) if cursor else None
    return service.events(merchant_id, subject_id, limit=limit, after=after)


@public.get("/v1/audit/verify", response_model=schemas.Verification, responses=_problems())
def verify(_: InternalCaller, merchant_id: MerchantId, service: Service) -> schemas.Verification:
    """Whether the whole audit chain is intact, and its first broken row if not."""
    return service.verify(viewer=merchant_id)


@internal.get("/audit/verify", response_model=schemas.Verification, responses=_problems())
def verify_as_operator(_: InternalCaller, service: Service) -> schemas.Verification:
    """The chain's integrity for operators and tests: the broken row's event id always shown."""
    return service.verify()
