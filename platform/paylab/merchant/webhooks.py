"""Confirmation webhooks in ePayco's format: the form fields, their signature, the retry schedule.

Partners verify `x_signature = sha256(p_cust_id_cliente^p_key^x_ref_payco^x_transaction_id^
x_amount^x_currency_code)` with the pair from their dashboard, then act on `x_cod_response`.
Pure functions only (no I/O), so the format is unit-tested field by field.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

# The events a merchant is told about, and the ones that are not its business.
# PaymentHeld is "Retenida" (cod 7): ePayco confirms it too, and the final state follows.
PAYMENT_OUTCOMES = frozenset(
    {"PaymentHeld", "PaymentCompleted", "PaymentFailed", "PaymentRefunded"}
)

# ePayco's x_response / x_transaction_state for each cod_respuesta (ARCHITECTURE §4).
RESPONSES: dict[int, str] = {
    1: "Aceptada",
    2: "Rechazada",
    3: "Pendiente",
    4: "Fallida",
    6: "Reversada",
    7: "Retenida",
    10: "Abandonada",
    11: "Cancelada",
}
# What x_response_reason_text says when the event gives no reason of its own.
DEFAULT_REASONS: dict[int, str] = {
    1: "00-Aprobada",
    2: "Transacción rechazada",
    3: "Transacción pendiente",
    4: "Transacción fallida",
    6: "Transacción reversada",
    7: "Transacción retenida",
    10: "Transacción abandonada",
    11: "Transacción cancelada",
}
# Colombia has no daylight saving time: America/Bogota is always UTC-5.
BOGOTA = timezone(timedelta(hours=-5), "America/Bogota")
SIGNED_FIELDS = ("x_ref_payco", "x_transaction_id", "x_amount", "x_currency_code")


class NotAWebhook(ValueError):
    """The event lacks what a confirmation needs (or is not a payment outcome)."""


def signature(p_cust_id_cliente: str, p_key: str, fields: Mapping[str, str]) -> str:
    """ePayco's x_signature over the fields as they are sent (hex SHA-256)."""
    parts = [p_cust_id_cliente, p_key, *(fields[name] for name in SIGNED_FIELDS)]
    return hashlib.sha256("^".join(parts).encode()).hexdigest()


def signature_valid(p_cust_id_cliente: str, p_key: str, fields: Mapping[str, str]) -> bool:
    """True when the form's x_signature matches (what a merchant's endpoint checks)."""
    if any(name not in fields for name in (*SIGNED_FIELDS, "x_signature")):
        return False
    expected = signature(p_cust_id_cliente, p_key, fields)
    return hmac.compare_digest(expected, fields["x_signature"].lower())


def signed(fields: Mapping[str, str], p_cust_id_cliente: str, p_key: str) -> dict[str, str]:
    """The form to POST: the stored fields plus the merchant's id and the signature."""
    form = {**fields, "x_cust_id_cliente": p_cust_id_cliente}
    form["x_signature"] = signature(p_cust_id_cliente, p_key, form)
    return form


def form_fields(
    event_type: str, data: Mapping[str, Any], occurred_at: datetime, *, test: bool
) -> dict[str, str]:
    """The unsigned form fields for one payment event (NotAWebhook when it cannot be one)."""
    if event_type not in PAYMENT_OUTCOMES:
        raise NotAWebhook(f"{event_type} is not a payment outcome")
    try:
        cod = int(data["cod_respuesta"])
        fields = {
            "x_ref_payco": str(data["ref_payco"]),
            "x_transaction_id": str(data["payment_id"]),
            "x_id_invoice": str(data["reference"]),
            "x_amount": str(data["amount"]),
            "x_currency_code": str(data["currency"]),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise NotAWebhook(f"{event_type} lacks {exc}") from exc
    if cod not in RESPONSES:
        raise NotAWebhook(f"unknown cod_respuesta {cod}")
    reason = data.get("reason")
    fields |= {
        "x_amount_ok": fields["x_amount"],
        "x_description": str(data.get("description") or ""),
        "x_cod_response": str(cod),
        "x_response": RESPONSES[cod],
        "x_cod_transaction_state": str(cod),
        "x_transaction_state": RESPONSES[cod],
        "x_response_reason_text": str(reason) if reason else DEFAULT_REASONS[cod],
        "x_approval_code": str(data.get("authorization_id") or ""),
        "x_franchise": str(data.get("method") or "").upper(),
        "x_transaction_date": occurred_at.astimezone(BOGOTA).strftime("%Y-%m-%d %H:%M:%S"),
        "x_test_request": "TRUE" if test else "FALSE",
    }
    if data.get("refund_id"):
        # A refund: a partial one leaves the payment approved (x_cod_response 1).
        fields["x_refund_id"] = str(data["refund_id"])
        for name in ("refund_amount", "refunded_amount"):
            if data.get(name):
                fields[f"x_{name}"] = str(data[name])
    return fields


def backoff_s(attempt: int, base_s: float, max_s: float) -> float:
    """How long to wait after failed attempt number `attempt` (1, 2, ...): doubling, capped."""
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    return float(min(max_s, base_s * 2 ** min(attempt - 1, 62)))


def schedule(max_attempts: int, base_s: float, max_s: float) -> list[float]:
    """The waits between all attempts of one delivery (max_attempts - 1 of them)."""
    return [backoff_s(n, base_s, max_s) for n in range(1, max_attempts)]
