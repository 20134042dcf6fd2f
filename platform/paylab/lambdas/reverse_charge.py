"""SAGA compensation ReverseCharge: give back at the bank what a failed card payment took."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from paylab.lambdas._services import call


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Voids or refunds the payment's authorizations (idempotent, retried); runs before
    ReleaseFunds, whose hold stays until the bank has given the money back."""
    payment_id = quote(str(event["payment_id"]), safe="")
    result: dict[str, Any] = call(
        "payment", "POST", f"/internal/payments/{payment_id}/reverse-charge"
    )
    return result
