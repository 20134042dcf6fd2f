"""SAGA step ProcessPayment (card, wallet): charge through the payment service's partners."""

from __future__ import annotations

from typing import Any

from paylab.lambdas._services import call


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Returns `{"outcome": approved|rejected|failed|pending, "reason"}`."""
    attempt = int((event.get("attempt") or {}).get("n", 1))
    result: dict[str, Any] = call(
        "payment", "POST", f"/internal/payments/{event['payment_id']}/process", {"attempt": attempt}
    )
    return result
