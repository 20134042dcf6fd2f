"""Checking an SNS message signature: the suite uses the services' own check (paylab.core)."""

from __future__ import annotations

from paylab.core.sns_push import SignatureError, string_to_sign, verify

__all__ = ["SignatureError", "string_to_sign", "verify"]
