"""SAGA compensation ReleaseFunds: cancel the hold after a failure (idempotent, retried)."""

from __future__ import annotations

from typing import Any

from paylab.lambdas._services import call


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Releases the hold if one was made; a payment that never got a hold has nothing to undo."""
    hold = event.get("hold") or {}
    if not hold.get("hold_id"):
        return {"released": False, "reason": "no hold was made"}
    result: dict[str, Any] = call(
        "wallet",
        "POST",
        f"/internal/holds/{hold['hold_id']}/release",
        {
            "operation_id": f"{event['payment_id']}:release",
            "reason": str(event.get("final_status") or "failed"),
        },
    )
    return {"released": True, **result}
