"""The wallet's internal refund API: reserve, complete, cancel, and what is still reserved."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from paylab.core.internal_auth import InternalCaller
from paylab.core.isotime import IsoDatetime
from paylab.wallet import schemas
from paylab.wallet.routes import Correlation, Service, _problems, respond

refunds = APIRouter(prefix="/internal", tags=["internal"])


@refunds.get("/refunds", response_model=schemas.RefundList, responses=_problems(422))
def list_refunds(
    _: InternalCaller,
    service: Service,
    payment_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[^\x00-\x1f]+$",
            description="One payment's refunds",
        ),
    ] = None,
    status: Annotated[
        schemas.RefundStatus | None, Query(description="Only refunds in this state")
    ] = None,
    attempted_before: Annotated[
        IsoDatetime | None,
        Query(description="Only refunds whose last reserve call was before this instant"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[
        UUID | None,
        Query(description="The next page: only refunds listed after this one (422 if unknown)"),
    ] = None,
) -> schemas.RefundList:
    """Refunds, oldest first: a payment's, or those still `reserved` (reconciliation)."""
    return service.refunds.search(
        payment_id=payment_id,
        status=status,
        attempted_before=attempted_before,
        limit=limit,
        after=after,
    )


@refunds.post(
    "/refunds", status_code=201, response_model=schemas.Refund, responses=_problems(404, 409, 422)
)
def reserve_refund(
    _: InternalCaller, body: schemas.RefundCreate, service: Service, correlation: Correlation
) -> Response:
    """Reserve a refund: the merchant's part leaves its available balance (409 when short)."""
    return respond(service.refunds.reserve(body, correlation))


@refunds.get("/refunds/{refund_id}", response_model=schemas.Refund, responses=_problems(404, 422))
def get_refund(_: InternalCaller, refund_id: UUID, service: Service) -> schemas.Refund:
    """A refund's current state."""
    return service.refunds.get(refund_id)


@refunds.post(
    "/refunds/{refund_id}/complete",
    response_model=schemas.Refund,
    responses=_problems(404, 409, 422),
)
def complete_refund(
    _: InternalCaller,
    refund_id: UUID,
    body: schemas.RefundComplete,
    service: Service,
    correlation: Correlation,
) -> Response:
    """The money goes back to the payer's wallet or the clearing account, exactly once."""
    return respond(service.refunds.complete(refund_id, body, correlation))


@refunds.post(
    "/refunds/{refund_id}/cancel", response_model=schemas.Refund, responses=_problems(404, 409, 422)
)
def cancel_refund(
    _: InternalCaller,
    refund_id: UUID,
    body: schemas.RefundCancel,
    service: Service,
    correlation: Correlation,
) -> Response:
    """The merchant gets its reserved part back (the processor refused the refund)."""
    return respond(service.refunds.cancel(refund_id, body, correlation))
