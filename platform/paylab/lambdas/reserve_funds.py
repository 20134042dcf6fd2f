"""SAGA step ReserveFunds: hold the payment's amount in the wallet (idempotent per payment)."""

from __future__ import annotations

from typing import Any

from paylab.lambdas._services import call


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Returns the wallet's hold (`id`, `status`, ...); raises Refused when the wallet says no."""
    result: dict[str, Any] = call(
        "wallet",
        "POST",
        "/internal/holds",
        {
            "operation_id": f"{event['payment_id']}:reserve",
            "payment_id": event["payment_id"],
            "merchant_id": event["merchant_id"],
            "method": event["method"],
            "amount": event["amount"],
            "currency": event["currency"],
            "payer_account_id": event.get("payer_account_id"),
        },
    )
    return result
