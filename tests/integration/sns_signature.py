"""Checking an SNS message signature the way notification and audit must (SignatureVersion 1/2)."""

from __future__ import annotations

import base64
import urllib.request
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# The fields SNS signs, in this order, for each message type.
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SIGNED_FIELDS["UnsubscribeConfirmation"] = _SIGNED_FIELDS["SubscriptionConfirmation"]


def string_to_sign(message: dict[str, Any]) -> bytes:
    """The canonical text SNS signs: `name\\nvalue\\n` for each present signed field."""
    fields = _SIGNED_FIELDS[message["Type"]]
    return "".join(f"{f}\n{message[f]}\n" for f in fields if f in message).encode()


def verify(message: dict[str, Any], certificate_pem: bytes | None = None) -> None:
    """Raise if the signature does not match; fetches SigningCertURL unless given the cert."""
    if certificate_pem is None:
        with urllib.request.urlopen(message["SigningCertURL"], timeout=5) as response:
            certificate_pem = response.read()
    key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    digest = hashes.SHA1() if message["SignatureVersion"] == "1" else hashes.SHA256()
    key.verify(
        base64.b64decode(message["Signature"]),
        string_to_sign(message),
        padding.PKCS1v15(),
        digest,
    )
