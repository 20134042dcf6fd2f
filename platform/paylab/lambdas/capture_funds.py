"""SAGA step CaptureFunds: move the held amount to the merchant, net of the platform fee."""

from __future__ import annotations

from typing import Any

from paylab.lambdas._services import call


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Captures the hold once (the wallet answers a repeat with the first result)."""
    hold_id = event["hold"]["id"]
    result: dict[str, Any] = call(
        "wallet",
        "POST",
        f"/internal/holds/{hold_id}/capture",
        {"operation_id": f"{event['payment_id']}:capture"},
    )
    return result
