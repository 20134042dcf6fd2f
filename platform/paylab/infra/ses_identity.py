"""Whether the stack should create the SES identity that notification sends from.

An identity can exist only once in an account and region: CloudFormation fails to create one
that was verified outside the stack (by hand, or a domain another stack owns). `paylab deploy`
asks SES first, and the stack creates the identity only when nothing covers the sender yet.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def _identity(ses: Any, name: str) -> dict[str, Any] | None:
    try:
        return dict(ses.get_email_identity(EmailIdentity=name))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NotFoundException":
            return None
        raise


def covered_outside(ses: Any, sender_email: str) -> bool:
    """Whether SES already holds the address's identity, or a domain verified for sending.

    The address's own identity clashes with the stack's whatever its state. A domain identity
    only covers the address once verified; until then the stack verifies the address itself.
    """
    if _identity(ses, sender_email) is not None:
        return True
    domain = _identity(ses, sender_email.rpartition("@")[2])
    return bool(domain and domain.get("VerifiedForSendingStatus"))


def create_identity(ses: Any, sender_email: str, running: dict[str, str] | None) -> bool:
    """Whether the stack should own the sender's identity, given the running stack's parameters.

    A stack that owns the identity keeps it while the sender stays the same: it exists in SES
    now, and asking again would have CloudFormation delete it. Otherwise SES is asked, so a
    stack that relied on an identity that has since gone creates its own. Stacks deployed
    before the parameter existed created theirs.
    """
    owned = running is not None and running.get("CreateSenderIdentity", "true") == "true"
    if owned and running is not None and running.get("SenderEmail") == sender_email:
        return True
    return not covered_outside(ses, sender_email)
