"""The merchant service's use cases: one transaction each (STYLE rules 1-2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from paylab.core.db import unit_of_work
from paylab.core.outbox import add_event
from paylab.core.problems import Problem
from paylab.merchant import registration, schemas
from paylab.merchant.clients import Auth, Wallet
from paylab.merchant.dispersion_store import DESTINATIONS
from paylab.merchant.models import Merchant, PayoutAccount, WebhookDelivery
from paylab.merchant.notices import account_changed, email_changed
from paylab.merchant.settings import MerchantSettings
from paylab.merchant.urls import Resolver, UnsafeUrl, check_url, resolve

SignupLimiter = Callable[[str], float | None]  # client IP -> seconds to wait, or None: go on
DeliveryStatus = Literal["pending", "delivered", "failed"]


def _unsafe(field: str, exc: UnsafeUrl) -> Problem:
    return Problem(
        422,
        "unsafe-confirmation-url",
        f"The confirmation URL cannot receive webhooks: {exc}.",
        errors=[{"field": field, "message": str(exc)}],
    )


class MerchantService:
    """Merchants over one engine connected as `paylab_merchant`, plus auth and wallet."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: MerchantSettings,
        auth: Auth,
        wallet: Wallet,
        *,
        resolver: Resolver = resolve,
        signup_limiter: SignupLimiter | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.auth, self.wallet = auth, wallet
        self.resolver = resolver
        self.signup_limiter = signup_limiter

    # ------------------------------------------------------------------ signup
    def register(
        self, req: schemas.MerchantCreate, key: str, client_ip: str, correlation_id: str
    ) -> registration.Registration:
        """Self-signup: the merchant, its API keys and COP account, returned once."""
        if self.signup_limiter is not None:
            wait = self.signup_limiter(client_ip)
            if wait is not None:
                raise Problem(
                    429,
                    "too-many-signups",
                    f"Too many signups from this address; retry in {int(wait) + 1} s.",
                )
        if req.confirmation_url is not None:
            self.check_url("body.confirmation_url", req.confirmation_url)
        return registration.register(
            self.sessions, self.auth, self.wallet, req, key, correlation_id
        )

    def check_url(self, field: str, url: str) -> str:
        """`url` if the policy in force lets webhooks go there (422 otherwise)."""
        try:
            return check_url(url, self.settings.url_policy, self.resolver)
        except UnsafeUrl as exc:
            raise _unsafe(field, exc) from exc

    # ------------------------------------------------------------------ profile
    def profile(self, merchant_id: str) -> schemas.Merchant:
        """The merchant's profile (404 for one that is not registered here)."""
        with self.sessions() as session:
            return _view(session, _active(session, merchant_id))

    def update_profile(self, merchant_id: str, req: schemas.MerchantUpdate) -> schemas.Merchant:
        """Change name, email, phone or document; a document another merchant has is a 409.

        A changed e-mail writes MerchantEmailChanged: the previous address is mailed.
        """
        changes = req.model_dump(exclude_unset=True, exclude_none=True)
        if ("doc_type" in changes) != ("doc_number" in changes):
            raise Problem(
                422,
                "validation-error",
                "doc_type and doc_number change together.",
                errors=[{"field": "body.doc_number", "message": "send doc_type with it"}],
            )
        try:
            with unit_of_work(self.sessions) as session:
                row = _active(session, merchant_id, lock=True)
                if "email" in changes and changes["email"].lower() != row.email.lower():
                    # Tell the address being replaced: a token holder could otherwise move the
                    # merchant's notices (payout-account changes included) to itself first.
                    add_event(
                        session, "merchant", email_changed(row, changes["email"]), DESTINATIONS
                    )
                for name, value in changes.items():
                    setattr(row, name, value)
                row.updated_at = datetime.now(UTC)
                session.flush()
                return _view(session, row)
        except IntegrityError as exc:
            raise Problem(
                409, "merchant-exists", "Another merchant is registered with that document."
            ) from exc

    def set_payout_account(
        self, merchant_id: str, req: schemas.PayoutAccountIn
    ) -> schemas.PayoutAccountOut:
        """Where dispersions pay the merchant's available balance.

        A change (not a repeat) writes PayoutAccountChanged: the merchant is mailed at once,
        since whoever holds its token could otherwise redirect its payouts unnoticed.
        """
        with unit_of_work(self.sessions) as session:
            merchant = _active(session, merchant_id, lock=True)
            account = session.get(PayoutAccount, merchant_id)
            fields = ("bank_code", "account_type", "account_number", "holder_name")
            before = None if account is None else tuple(getattr(account, f) for f in fields)
            if before != tuple(getattr(req, f) for f in fields):
                changed = account_changed(merchant, req, before[2] if before else None)
                add_event(session, "merchant", changed, DESTINATIONS)
            account = account or PayoutAccount(merchant_id=merchant_id)
            account.bank_code = req.bank_code
            account.account_type = req.account_type
            account.account_number = req.account_number
            account.holder_name = req.holder_name
            account.updated_at = datetime.now(UTC)
            session.add(account)
            session.flush()
            return _payout(account)

    # ------------------------------------------------------------------ webhooks
    def webhook_settings(self, merchant_id: str) -> schemas.WebhookSettingsOut:
        """The merchant's default confirmation URL."""
        with self.sessions() as session:
            row = _active(session, merchant_id)
            return schemas.WebhookSettingsOut(confirmation_url=row.confirmation_url)

    def set_webhook(
        self, merchant_id: str, req: schemas.WebhookSettingsIn
    ) -> schemas.WebhookSettingsOut:
        """Point confirmations at a URL the policy allows (or at nothing, with null)."""
        url = req.confirmation_url
        if url is not None:
            self.check_url("body.confirmation_url", url)
        with unit_of_work(self.sessions) as session:
            row = _active(session, merchant_id, lock=True)
            row.confirmation_url = url
            row.updated_at = datetime.now(UTC)
            return schemas.WebhookSettingsOut(confirmation_url=url)

    def signature_keys(self, merchant_id: str) -> schemas.SignatureKeys:
        """p_cust_id_cliente and p_key, for verifying x_signature."""
        with self.sessions() as session:
            return _keys(_active(session, merchant_id))

    def rotate_signature_key(self, merchant_id: str) -> schemas.SignatureKeys:
        """A new p_key; webhooks sent from now on (retries included) are signed with it."""
        with unit_of_work(self.sessions) as session:
            row = _active(session, merchant_id, lock=True)
            row.p_key = registration.new_p_key()
            row.p_key_rotated_at = row.updated_at = datetime.now(UTC)
            return _keys(row)

    def deliveries(
        self, merchant_id: str, *, status: DeliveryStatus | None, limit: int
    ) -> schemas.WebhookDeliveryList:
        """The merchant's confirmation webhooks, newest first."""
        with self.sessions() as session:
            _active(session, merchant_id)
            query = (
                select(WebhookDelivery)
                .where(WebhookDelivery.merchant_id == merchant_id)
                .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
                .limit(limit)
            )
            if status is not None:
                query = query.where(WebhookDelivery.status == status)
            rows = session.execute(query).scalars().all()
        return schemas.WebhookDeliveryList(items=[delivery_view(d) for d in rows])


def _active(session: Session, merchant_id: str, *, lock: bool = False) -> Merchant:
    query = select(Merchant).where(Merchant.id == merchant_id, Merchant.status == "active")
    row = session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if row is None:
        raise Problem(404, "merchant-not-found", "No merchant is registered for these keys.")
    return row


def _keys(row: Merchant) -> schemas.SignatureKeys:
    return schemas.SignatureKeys(
        p_cust_id_cliente=str(row.cust_id), p_key=row.p_key, rotated_at=row.p_key_rotated_at
    )


def _payout(account: PayoutAccount) -> schemas.PayoutAccountOut:
    number = account.account_number
    return schemas.PayoutAccountOut(
        bank_code=account.bank_code,
        account_type="savings" if account.account_type == "savings" else "checking",
        account_number_masked="*" * (len(number) - 4) + number[-4:],
        holder_name=account.holder_name,
        updated_at=account.updated_at,
    )


def merchant_view(row: Merchant, payout: PayoutAccount | None) -> schemas.Merchant:
    """The API form of a merchant row."""
    return schemas.Merchant.model_validate(
        {
            "id": row.id,
            "status": row.status,
            "name": row.name,
            "email": row.email,
            "phone": row.phone,
            "doc_type": row.doc_type,
            "doc_number": row.doc_number,
            "p_cust_id_cliente": str(row.cust_id),
            "wallet_account_id": row.wallet_account_id,
            "confirmation_url": row.confirmation_url,
            "payout_account": _payout(payout) if payout else None,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
    )


def _view(session: Session, row: Merchant) -> schemas.Merchant:
    return merchant_view(row, session.get(PayoutAccount, row.id))


def delivery_view(row: WebhookDelivery) -> schemas.WebhookDelivery:
    """The API form of a delivery row."""
    return schemas.WebhookDelivery.model_validate(
        {
            "id": row.id,
            "event_id": row.event_id,
            "event_type": row.event_type,
            "payment_id": row.payment_id,
            "ref_payco": str(row.fields.get("x_ref_payco", "")),
            "url": row.url,
            "status": row.status,
            "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at,
            "last_status_code": row.last_status_code,
            "last_error": row.last_error,
            "created_at": row.created_at,
            "finished_at": row.finished_at,
        }
    )
