"""Dispersion's HTTP entrypoints: the scheduled run, and reads for operators and merchants."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Query, Request

from paylab.core.internal_auth import InternalCaller, MerchantId
from paylab.core.isotime import IsoDate
from paylab.merchant import schemas
from paylab.merchant.dispersion import Dispersions, Outcome
from paylab.merchant.dispersion_store import SqlStore
from paylab.merchant.models import Dispersion
from paylab.merchant.routes import _problems

router = APIRouter(tags=["dispersions"])
Limit = Annotated[int, Query(ge=1, le=500)]


def _runtime(request: Request) -> tuple[Dispersions, SqlStore]:
    runtime = request.app.state.runtime()
    return runtime.dispersions, runtime.dispersion_store


def _result(o: Outcome) -> schemas.DispersionResult:
    return schemas.DispersionResult(
        merchant_id=o.merchant_id,
        result=o.result.value,
        dispersion_id=o.dispersion_id,
        business_date=o.business_date,
        amount=f"{o.amount:.2f}" if o.amount is not None else None,
        detail=o.detail,
    )


def _view(d: Dispersion) -> schemas.DispersionOut:
    return schemas.DispersionOut(
        id=d.id,
        merchant_id=d.merchant_id,
        business_date=d.business_date,
        status=d.status,  # type: ignore[arg-type]  # the table's CHECK allows only these
        attempt=d.attempt,
        amount=f"{d.amount:.2f}",
        currency=d.currency,
        bank_account_masked="*" * 4 + d.bank_account_last4,
        wallet_payout_id=d.wallet_payout_id,
        wallet_return_id=d.wallet_return_id,
        bank_payout_id=d.bank_payout_id,
        bank_status=d.bank_status,
        last_error=d.last_error,
        created_at=d.created_at,
        updated_at=d.updated_at,
        paid_at=d.paid_at,
    )


@router.post(
    "/internal/dispersions/run", response_model=schemas.DispersionRunOut, responses=_problems()
)
def run(
    _: InternalCaller, body: schemas.DispersionRun, request: Request
) -> schemas.DispersionRunOut:
    """Pay out every merchant's available balance for the day (idempotent per merchant and day)."""
    dispersions, _store = _runtime(request)
    outcomes = dispersions.run(body.business_date, body.merchant_ids)
    return schemas.DispersionRunOut(
        business_date=body.business_date,
        counts=dict(Counter(o.result.value for o in outcomes)),
        results=[_result(o) for o in outcomes],
    )


@router.get("/internal/dispersions", response_model=schemas.DispersionList, responses=_problems())
def dispersions(
    _: InternalCaller,
    request: Request,
    merchant_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    business_date: IsoDate | None = None,
    limit: Limit = 100,
) -> schemas.DispersionList:
    """Dispersion rows, newest day first (tests and operators)."""
    _d, store = _runtime(request)
    return schemas.DispersionList(
        items=[_view(d) for d in store.list(merchant_id, business_date, limit)]
    )


@router.get(
    "/v1/merchants/me/dispersions", response_model=schemas.DispersionList, responses=_problems()
)
def my_dispersions(
    _: InternalCaller, merchant_id: MerchantId, request: Request, limit: Limit = 30
) -> schemas.DispersionList:
    """The authenticated merchant's payouts, newest day first."""
    _d, store = _runtime(request)
    return schemas.DispersionList(items=[_view(d) for d in store.list(merchant_id, None, limit)])
