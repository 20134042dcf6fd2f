"""SAGA compensation ReleaseFunds: cancel the hold after a failure (idempotent, retried)."""

from __future__ import annotations

from typing import Any

from paylab.lambdas._services import call


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Releases the hold if one was made; a payment that never got a hold has nothing to undo."""
    hold = event.get("hold")
    if hold is None:
        return {"released": False, "reason": "no hold was made"}
    # A hold without its id is a contract break: fail loudly, never skip a compensation.
    result: dict[str, Any] = call(
        "wallet",
        "POST",
        f"/internal/holds/{hold['id']}/release",
        {
            "operation_id": f"{event['payment_id']}:release",
            "reason": str(event.get("final_status") or "failed"),
        },
    )
    return {"released": True, **result}
