"""Signup: a merchant row, its COP account in wallet, one API key pair in auth, once.

Two services are called between our transactions, so a crash can stop it half-way. Each step
is safe to repeat: the row is keyed by the Idempotency-Key, wallet's account creation is
create-or-get, and auth keys are made convergent: before and after issuing a pair, every
other active key of the merchant is revoked (none was ever delivered: keys leave only in the
response of the call that finishes the registration). So a retry with the same key ends with
one merchant, one account, one active key pair, and `MerchantRegistered` once.

A retry after the registration finished (its response was lost) gets a fresh pair and the
old one is revoked, as long as that old pair never logged in; once it has, the keys were
clearly received and the retry is refused, so an Idempotency-Key cannot be used to take the
account over later.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import unit_of_work
from paylab.core.events import Envelope
from paylab.core.outbox import add_event
from paylab.core.problems import Problem
from paylab.merchant import schemas
from paylab.merchant.clients import Auth, Wallet
from paylab.merchant.models import Merchant

SOURCE = "paylab.merchant"
CURRENCY = "COP"


@dataclass(frozen=True)
class Registration:
    """A finished registration: `created` is False for a replay of a finished one."""

    created: bool
    merchant: Merchant
    public_key: str
    private_key: str


# The topic (the published contract, ARCHITECTURE §3), and audit's own queue: an SNS push to
# a service that is down is lost, the queue waits for it (decisions.md, "Audit and merchant
# read their queues").
REGISTERED_TO = ("sns:merchant-events", "sqs:audit-ops")


def request_hash(req: schemas.MerchantCreate) -> str:
    """A stable fingerprint of the signup form (a key reused with another form is a 409)."""
    canonical = json.dumps(req.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_merchant_id() -> str:
    """An opaque merchant id (what auth and wallet know the merchant by)."""
    return "mch_" + secrets.token_hex(12)


def new_p_key() -> str:
    """A signature key like ePayco's: 40 hex characters (160 random bits)."""
    return secrets.token_hex(20)


def register(
    sessions: sessionmaker[Session],
    auth: Auth,
    wallet: Wallet,
    req: schemas.MerchantCreate,
    key: str,
    correlation_id: str,
) -> Registration:
    """Register (or finish registering) the merchant the Idempotency-Key `key` names."""
    fingerprint = request_hash(req)
    merchant_id = _claim(sessions, req, key, fingerprint)
    with unit_of_work(sessions) as session:
        row = _lock(session, merchant_id)
        replay = row.status == "active"
        account_id, public_key, private_key = provision(
            auth, wallet, merchant_id, delivered=row.api_public_key if replay else None
        )
        now = datetime.now(UTC)
        row.status = "active"
        row.wallet_account_id = account_id
        row.api_public_key = public_key
        row.activated_at = row.activated_at or now
        row.updated_at = now
        session.flush()
        if not replay:
            add_event(session, "merchant", _registered(row, correlation_id), REGISTERED_TO)
        return Registration(not replay, row, public_key, private_key)


def _claim(sessions: sessionmaker[Session], req: schemas.MerchantCreate, key: str, fp: str) -> str:
    """The merchant row for `key`: inserted now (status registering) or found from a retry."""
    with unit_of_work(sessions) as session:
        session.execute(
            insert(Merchant)
            .values(
                id=new_merchant_id(),
                status="registering",
                name=req.name,
                email=req.email,
                phone=req.phone,
                doc_type=req.doc_type,
                doc_number=req.doc_number,
                registration_key=key,
                request_hash=fp,
                p_key=new_p_key(),
                confirmation_url=req.confirmation_url,
            )
            .on_conflict_do_nothing()
        )
        row = session.execute(
            select(Merchant.id, Merchant.request_hash).where(Merchant.registration_key == key)
        ).first()
    if row is None:  # the insert lost to the one-merchant-per-document rule, not to `key`
        raise Problem(
            409,
            "merchant-exists",
            f"A merchant with {req.doc_type} {req.doc_number} is already registered.",
        )
    if row.request_hash != fp:
        raise Problem(
            409,
            "idempotency-key-reused",
            "This Idempotency-Key was used for a different signup; use a new key.",
        )
    return str(row.id)


def _lock(session: Session, merchant_id: str) -> Merchant:
    """The row, locked; a concurrent retry of the same signup gets a 409 instead of waiting."""
    try:
        return session.execute(
            select(Merchant).where(Merchant.id == merchant_id).with_for_update(nowait=True)
        ).scalar_one()
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        raise Problem(
            409,
            "registration-in-progress",
            "This signup is being processed by another request; retry in a few seconds.",
        ) from exc


def provision(
    auth: Auth, wallet: Wallet, merchant_id: str, *, delivered: str | None
) -> tuple[uuid.UUID, str, str]:
    """The merchant's COP account and its one active key pair: (account id, public, private).

    `delivered` is the public key a finished registration returned: a replay replaces it
    only while it never logged in (409 otherwise).
    """
    if delivered is not None:
        known = next((k for k in auth.list_keys(merchant_id) if k.public_key == delivered), None)
        if known is None or not known.active or known.last_used_at is not None:
            raise Problem(
                409,
                "already-registered",
                "This signup finished and its API keys are in use; log in with them.",
            )
    account_id = wallet.ensure_account(merchant_id, CURRENCY)
    _revoke_active(auth, merchant_id, keep=None)
    public_key, private_key = auth.issue_key(merchant_id)
    # A retried POST may have issued a pair whose answer we never saw: revoke it too.
    _revoke_active(auth, merchant_id, keep=public_key)
    return account_id, public_key, private_key


def _revoke_active(auth: Auth, merchant_id: str, *, keep: str | None) -> None:
    for api_key in auth.list_keys(merchant_id):
        if api_key.active and api_key.public_key != keep:
            auth.revoke_key(api_key.public_key)


def _registered(row: Merchant, correlation_id: str) -> Envelope:
    assert row.activated_at is not None and row.api_public_key is not None
    return Envelope(
        type="MerchantRegistered",
        source=SOURCE,
        subject_id=row.id,
        correlation_id=correlation_id or row.id,
        data={
            "merchant_id": row.id,
            "name": row.name,
            "email": row.email,
            "doc_type": row.doc_type,
            "doc_number": row.doc_number,
            "currencies": [CURRENCY],
            "account_ids": {CURRENCY: str(row.wallet_account_id)},
            "p_cust_id_cliente": str(row.cust_id),
            "public_key": row.api_public_key,
            "confirmation_url": row.confirmation_url,
            "registered_at": row.activated_at.isoformat(),
        },
    )
