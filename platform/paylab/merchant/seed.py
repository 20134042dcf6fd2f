"""Seeding a merchant whose API keys already exist in auth (the dev stack's demo merchant).

Signup issues the keys itself; the demo merchant's keys come from `./paylab up`, which keeps
them while they still log in. `PUT /internal/merchants/{id}` registers such a merchant here
too: create-or-get by id, so `up` can call it every time. A repeat changes nothing the
merchant may have changed since (profile, confirmation URL, payout account, p_key); it only
records the key pair in use and the wallet account. `MerchantRegistered` goes out once, with
the row. Only callers with the internal credential reach it (the gateway routes /v1 only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from paylab.core.db import unit_of_work
from paylab.core.internal_auth import InternalCaller
from paylab.core.outbox import add_event
from paylab.core.problems import Problem
from paylab.merchant import schemas
from paylab.merchant.models import Merchant, PayoutAccount

# Signup's own builder of MerchantRegistered: one shape of the event, whoever registers.
from paylab.merchant.registration import CURRENCY, REGISTERED_TO, _registered, new_p_key
from paylab.merchant.routes import NO_STORE, Service, _problems
from paylab.merchant.service import MerchantService, merchant_view

# Not a SHA-256 of any form: a public signup that reuses a seeded row's registration key is
# refused as idempotency-key-reused, so it can never replay into the seeded merchant.
SEEDED_HASH = "seeded"
MerchantPathId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{2,63}$")]


class SeedMerchant(schemas.MerchantCreate):
    """The merchant's profile (used on creation only) and the API key pair auth issued it."""

    api_public_key: str = Field(min_length=1, max_length=200)
    payout_account: schemas.PayoutAccountIn | None = None


class Seeded(BaseModel):
    """The seeded merchant and its signature pair; `created` is False for a repeat."""

    created: bool
    merchant: schemas.Merchant
    signature_keys: schemas.SignatureKeys


@dataclass(frozen=True)
class _Outcome:
    created: bool
    merchant: Merchant
    payout: PayoutAccount | None


def seed_merchant(
    service: MerchantService, merchant_id: str, req: SeedMerchant, correlation_id: str
) -> _Outcome:
    """Register `merchant_id` here if it is not yet (one transaction, outbox row in it)."""
    if req.confirmation_url is not None:
        service.check_url("body.confirmation_url", req.confirmation_url)
    # Create-or-get in wallet, before our transaction (no remote call while holding a lock).
    account_id = service.wallet.ensure_account(merchant_id, CURRENCY)
    now = datetime.now(UTC)
    try:
        with unit_of_work(service.sessions) as session:
            inserted = session.execute(
                insert(Merchant)
                .values(
                    id=merchant_id,
                    status="active",
                    name=req.name,
                    email=req.email,
                    phone=req.phone,
                    doc_type=req.doc_type,
                    doc_number=req.doc_number,
                    registration_key=f"seed:{merchant_id}",
                    request_hash=SEEDED_HASH,
                    p_key=new_p_key(),
                    wallet_account_id=account_id,
                    api_public_key=req.api_public_key,
                    confirmation_url=req.confirmation_url,
                    activated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(Merchant.id)
            ).first()
            row = session.execute(
                select(Merchant).where(Merchant.id == merchant_id).with_for_update()
            ).scalar_one()
            if row.status != "active":
                raise Problem(409, "registration-in-progress", f"{merchant_id} is being signed up.")
            created = inserted is not None
            if created:
                if req.payout_account is not None:
                    session.add(_payout(merchant_id, req.payout_account, now))
                session.flush()
                add_event(session, "merchant", _registered(row, correlation_id), REGISTERED_TO)
            elif row.api_public_key != req.api_public_key or row.wallet_account_id != account_id:
                row.api_public_key, row.wallet_account_id, row.updated_at = (
                    req.api_public_key,
                    account_id,
                    now,
                )
            return _Outcome(created, row, session.get(PayoutAccount, merchant_id))
    except IntegrityError as exc:  # the document belongs to another merchant
        raise Problem(
            409,
            "merchant-exists",
            f"A merchant with {req.doc_type} {req.doc_number} is already registered.",
        ) from exc


def _payout(merchant_id: str, req: schemas.PayoutAccountIn, now: datetime) -> PayoutAccount:
    return PayoutAccount(
        merchant_id=merchant_id,
        bank_code=req.bank_code,
        account_type=req.account_type,
        account_number=req.account_number,
        holder_name=req.holder_name,
        updated_at=now,
    )


router = APIRouter(tags=["internal"])


@router.put(
    "/internal/merchants/{merchant_id}",
    status_code=201,
    response_model=Seeded,
    responses={200: {"description": "Already registered", "model": Seeded}, **_problems(409)},
    summary="Register a merchant whose API keys auth already issued (the demo merchant)",
)
def seed(
    _: InternalCaller,
    merchant_id: MerchantPathId,
    body: SeedMerchant,
    request: Request,
    service: Service,
) -> Response:
    correlation = str(getattr(request.state, "correlation_id", "") or "")
    done = seed_merchant(service, merchant_id, body, correlation)
    row = done.merchant
    seeded = Seeded(
        created=done.created,
        merchant=merchant_view(row, done.payout),
        signature_keys=schemas.SignatureKeys(
            p_cust_id_cliente=str(row.cust_id), p_key=row.p_key, rotated_at=row.p_key_rotated_at
        ),
    )
    return JSONResponse(
        seeded.model_dump(mode="json"), 201 if done.created else 200, headers=NO_STORE
    )
