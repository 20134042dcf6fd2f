"""A payment Idempotency-Key whose record the cleanup deleted is refused with a 409, not a 500."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine, text

from paylab.core.internal_auth import HEADER, MERCHANT_HEADER, internal_credential

PAYMENT_URL = "http://127.0.0.1:8002"


def test_a_key_whose_record_was_cleaned_up_is_refused(
    payment_rows: Callable[..., str], engines: dict[str, Engine]
) -> None:
    merchant_id = f"it-expired-{uuid.uuid4().hex[:8]}"
    # A payment made with this key long ago; its idempotency_keys row is gone (cleanup).
    old_payment = payment_rows(merchant_id, datetime(2026, 1, 5, tzinfo=UTC))
    body = {
        "amount": "1500.00",
        "currency": "COP",
        "method": "card",
        "reference": "order-expired",
        "description": "Pedido de prueba",
        "customer": {"email": f"payer-{uuid.uuid4().hex[:8]}@example.com", "name": "Ana"},
        "card": {"number": "4575623182290326", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    }
    answer = httpx.post(
        f"{PAYMENT_URL}/v1/payments",
        json=body,
        headers={
            HEADER: internal_credential(),
            MERCHANT_HEADER: merchant_id,
            "Idempotency-Key": old_payment,  # payment_rows uses the payment id as its key
        },
        timeout=30,
    )
    assert answer.status_code == 409, answer.text
    assert answer.json()["type"].endswith("/idempotency-key-expired")
    with engines["payment"].connect() as conn:
        claims = conn.execute(
            text("SELECT 1 FROM payment.idempotency_keys WHERE merchant_id = :m"),
            {"m": merchant_id},
        ).all()
    assert claims == []  # the refused claim left nothing behind
