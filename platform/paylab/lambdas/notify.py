"""SAGA step Notify: record the final outcome; the payment service's outbox tells the rest."""

from __future__ import annotations

from typing import Any

from paylab.lambdas._services import call


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Marks the payment approved / rejected / failed / abandoned (idempotent)."""
    status = event.get("final_status") or "approved"
    result: dict[str, Any] = call(
        "payment",
        "POST",
        f"/internal/payments/{event['payment_id']}/outcome",
        {"status": status, "reason": _reason(event)},
    )
    return result


def _reason(event: dict[str, Any]) -> str | None:
    """The most specific reason the execution knows: the partner's, else the error's."""
    process = event.get("process") or {}
    if process.get("reason"):
        return str(process["reason"])
    error = event.get("error") or {}
    return str(error.get("Error")) if error.get("Error") else None
