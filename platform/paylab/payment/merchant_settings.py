"""Operator-set processing settings per merchant: today, how long the SAGA waits for PSE.

`PUT /internal/merchants/{merchant_id}/settings` (internal credential: operators and tests,
never merchants) stores an override; the payment service reads it when a PSE payment's SAGA
starts, so it applies to the merchant's next payments without a restart. `null` goes back to
the service default (`PAYLAB_PAYMENT_PSE_TIMEOUT_SECONDS`, 15 minutes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from paylab.core.db import unit_of_work
from paylab.core.internal_auth import InternalCaller
from paylab.core.problems import problem_responses
from paylab.payment.models import merchant_settings
from paylab.payment.wiring import Services, Svc

log = structlog.get_logger(__name__)

#: Step Functions accepts any TimeoutSeconds; a day is the longest a PSE transfer stays open.
MAX_PSE_TIMEOUT_SECONDS = 86_400


class MerchantSettingsIn(BaseModel):
    """An override of the service defaults for one merchant; null removes it."""

    model_config = ConfigDict(extra="forbid")

    pse_timeout_seconds: int | None = Field(ge=1, le=MAX_PSE_TIMEOUT_SECONDS, examples=[300])


class MerchantSettingsOut(BaseModel):
    """The settings a merchant's next payments get, and where each comes from."""

    merchant_id: str
    pse_timeout_seconds: int
    pse_timeout_source: Literal["merchant", "default"]


def _override(svc: Services, merchant_id: str) -> int | None:
    with svc.sessions() as session:
        found = session.execute(
            select(merchant_settings.c.pse_timeout_seconds).where(
                merchant_settings.c.merchant_id == merchant_id
            )
        ).scalar()
    return int(found) if found is not None else None


def pse_timeout_seconds(svc: Services, merchant_id: str) -> int:
    """How long the SAGA of the merchant's next PSE payment waits for the bank."""
    override = _override(svc, merchant_id)
    return override if override is not None else svc.settings.pse_timeout_seconds


def settings_of(svc: Services, merchant_id: str) -> MerchantSettingsOut:
    """The merchant's effective settings."""
    override = _override(svc, merchant_id)
    return MerchantSettingsOut(
        merchant_id=merchant_id,
        pse_timeout_seconds=override if override is not None else svc.settings.pse_timeout_seconds,
        pse_timeout_source="merchant" if override is not None else "default",
    )


def change_settings(
    svc: Services, merchant_id: str, change: MerchantSettingsIn
) -> MerchantSettingsOut:
    """Store (with null: remove) the override; payments already started keep their own."""
    with unit_of_work(svc.sessions) as session:
        if change.pse_timeout_seconds is None:
            session.execute(
                delete(merchant_settings).where(merchant_settings.c.merchant_id == merchant_id)
            )
        else:
            values = {
                "pse_timeout_seconds": change.pse_timeout_seconds,
                "updated_at": datetime.now(UTC),
            }
            session.execute(
                insert(merchant_settings)
                .values(merchant_id=merchant_id, **values)
                .on_conflict_do_update(index_elements=["merchant_id"], set_=values)
            )
    log.info(
        "merchant settings changed",
        merchant_id=merchant_id,
        pse_timeout_seconds=change.pse_timeout_seconds,
    )
    return settings_of(svc, merchant_id)


# ------------------------------------------------------------------------------------ routes
MerchantPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
router = APIRouter(
    prefix="/internal/merchants/{merchant_id}/settings",
    tags=["internal"],
    responses=problem_responses(401, 422),
)


@router.get("", response_model=MerchantSettingsOut)
def get_settings(merchant_id: MerchantPath, _: InternalCaller, svc: Svc) -> MerchantSettingsOut:
    """The merchant's effective processing settings."""
    return settings_of(svc, merchant_id)


@router.put("", response_model=MerchantSettingsOut)
def put_settings(
    merchant_id: MerchantPath, body: MerchantSettingsIn, _: InternalCaller, svc: Svc
) -> MerchantSettingsOut:
    """Override the merchant's processing settings (operators only); null restores a default."""
    return change_settings(svc, merchant_id, body)
