"""SAGA compensation ReleaseFunds: cancel the hold after a failure (idempotent, retried)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from paylab.lambdas._services import call


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Releases the payment's hold: by its id when ReserveFunds answered, else by payment id."""
    reason = str(event.get("final_status") or "failed")
    hold = event.get("hold")
    if hold is None:
        return _release_by_payment(str(event["payment_id"]), reason)
    # A hold without its id is a contract break: fail loudly, never skip a compensation.
    result: dict[str, Any] = call(
        "wallet",
        "POST",
        f"/internal/holds/{hold['id']}/release",
        {"operation_id": f"{event['payment_id']}:release", "reason": reason},
    )
    return {"released": True, **result}


def _release_by_payment(payment_id: str, reason: str) -> dict[str, Any]:
    """ReserveFunds failed, or its answer was lost after all retries: a hold may still exist.

    The wallet releases whatever hold the payment has and, when there is none, refuses any
    ReserveFunds that arrives later, so no money can stay held behind the SAGA's back.
    """
    result: dict[str, Any] = call(
        "wallet",
        "POST",
        f"/internal/payments/{quote(payment_id, safe='')}/hold/release",
        {"operation_id": f"{payment_id}:release-by-payment", "reason": reason},
    )
    hold = result.get("hold")
    if hold is None:
        return {"released": False, "reason": "no hold was made"}
    return {"released": True, **hold}
