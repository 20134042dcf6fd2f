"""Events that tell a merchant where its money and notices go now (the merchant service writes
them in the change's transaction; notification mails them)."""

from __future__ import annotations

from datetime import UTC, datetime

from paylab.core.events import Envelope
from paylab.merchant import schemas
from paylab.merchant.dispersion_store import SOURCE
from paylab.merchant.models import Merchant


def account_changed(
    merchant: Merchant, req: schemas.PayoutAccountIn, previous_number: str | None
) -> Envelope:
    """PayoutAccountChanged (contracts/events/PayoutAccountChanged.schema.json)."""
    return _about(
        merchant,
        "PayoutAccountChanged",
        merchant_email=merchant.email,
        bank_code=req.bank_code,
        account_type=req.account_type,
        account_last4=req.account_number[-4:],
        previous_account_last4=previous_number[-4:] if previous_number else None,
    )


def email_changed(merchant: Merchant, new_email: str) -> Envelope:
    """MerchantEmailChanged (contracts/events/MerchantEmailChanged.schema.json)."""
    local, _, domain = new_email.partition("@")
    return _about(
        merchant,
        "MerchantEmailChanged",
        previous_email=merchant.email,
        new_email_masked=f"{local[: 2 if len(local) > 3 else 1]}***@{domain}",
    )


def _about(merchant: Merchant, type_: str, **data: str | None) -> Envelope:
    """An event about the merchant: its id first, the change's time last."""
    return Envelope(
        type=type_,
        source=SOURCE,
        subject_id=merchant.id,
        correlation_id=merchant.id,
        data={"merchant_id": merchant.id, **data, "changed_at": datetime.now(UTC).isoformat()},
    )
