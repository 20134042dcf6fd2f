"""Whether the stack should create the SES identity that notification sends from.

An identity can exist only once in an account and region: CloudFormation fails to create one
that was verified outside the stack (by hand, or a domain another stack owns). `paylab deploy`
asks SES first, and the stack creates the identity only when nothing covers the sender yet.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def covered_outside(ses: Any, sender_email: str) -> bool:
    """Whether an SES identity (the address, or its domain) already covers `sender_email`."""
    domain = sender_email.rpartition("@")[2]
    for identity in (sender_email, domain):
        try:
            ses.get_email_identity(EmailIdentity=identity)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NotFoundException":
                continue
            raise
        return True
    return False


def create_identity(ses: Any, sender_email: str, running: dict[str, str] | None) -> bool:
    """Whether the stack should own the sender's identity, given the running stack's parameters.

    A running stack keeps its decision while the sender stays the same: the identity it
    created exists in SES now, and deciding again would have CloudFormation delete it.
    """
    if running is not None and running.get("SenderEmail") == sender_email:
        return running.get("CreateSenderIdentity", "true") == "true"
    return not covered_outside(ses, sender_email)
