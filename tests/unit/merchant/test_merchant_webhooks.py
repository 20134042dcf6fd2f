"""Confirmation webhooks: ePayco's signature string, the form fields of each outcome, backoff."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from paylab.merchant.webhooks import (
    NotAWebhook,
    backoff_s,
    form_fields,
    schedule,
    signature,
    signature_valid,
    signed,
)

AT = datetime(2026, 12, 5, 3, 4, 5, tzinfo=UTC)


def event_data(**overrides: Any) -> dict[str, Any]:
    """PaymentCompleted's data as payment's projection.public_view (+ extras) writes it."""
    data: dict[str, Any] = {
        "payment_id": "94cd3c1e-6a55-4f73-8d8e-2f1f4e0f9a10",
        "merchant_id": "mch_0123456789abcdef01234567",
        "ref_payco": "100000135",
        "reference": "order-1001",
        "method": "card",
        "amount": "30000.00",
        "currency": "COP",
        "status": "approved",
        "cod_respuesta": 1,
        "reason": None,
    }
    return data | overrides


def test_signature_is_sha256_of_the_caret_joined_fields() -> None:
    fields = {
        "x_ref_payco": "100000135",
        "x_transaction_id": "tx-1",
        "x_amount": "30000.00",
        "x_currency_code": "COP",
    }
    text = "500001^0123abcd^100000135^tx-1^30000.00^COP"
    assert signature("500001", "0123abcd", fields) == hashlib.sha256(text.encode()).hexdigest()


def test_any_signed_field_changes_the_signature() -> None:
    fields = form_fields("PaymentCompleted", event_data(), AT, test=True)
    base = signature("500001", "k", fields)
    for name in ("x_ref_payco", "x_transaction_id", "x_amount", "x_currency_code"):
        assert signature("500001", "k", {**fields, name: fields[name] + "0"}) != base, name
    assert signature("500002", "k", fields) != base
    assert signature("500001", "k2", fields) != base


def test_signed_form_verifies_and_a_tampered_one_does_not() -> None:
    form = signed(form_fields("PaymentCompleted", event_data(), AT, test=True), "500001", "pk")
    assert form["x_cust_id_cliente"] == "500001"
    assert signature_valid("500001", "pk", form)
    assert not signature_valid("500001", "other", form)
    assert not signature_valid("500001", "pk", {**form, "x_amount": "1.00"})
    assert not signature_valid("500001", "pk", {k: v for k, v in form.items() if k != "x_amount"})


def test_approved_payment_fields() -> None:
    fields = form_fields(
        "PaymentCompleted",
        event_data(authorization_id="auth_77", description="Camiseta"),
        AT,
        test=True,
    )
    assert fields["x_ref_payco"] == "100000135"
    assert fields["x_transaction_id"] == "94cd3c1e-6a55-4f73-8d8e-2f1f4e0f9a10"
    assert fields["x_id_invoice"] == "order-1001"
    assert fields["x_amount"] == fields["x_amount_ok"] == "30000.00"
    assert fields["x_currency_code"] == "COP"
    assert fields["x_cod_response"] == fields["x_cod_transaction_state"] == "1"
    assert fields["x_response"] == fields["x_transaction_state"] == "Aceptada"
    assert fields["x_response_reason_text"] == "00-Aprobada"
    assert fields["x_approval_code"] == "auth_77"
    assert fields["x_description"] == "Camiseta"
    assert fields["x_franchise"] == "CARD"
    assert fields["x_test_request"] == "TRUE"
    # ePayco reports Colombian time: 03:04:05 UTC is 22:04:05 the day before in Bogota.
    assert fields["x_transaction_date"] == "2026-12-04 22:04:05"
    assert "x_signature" not in fields  # signed at send time, with the key in force then


@pytest.mark.parametrize(
    ("event_type", "status", "cod", "response"),
    [
        ("PaymentFailed", "rejected", 2, "Rechazada"),
        ("PaymentFailed", "failed", 4, "Fallida"),
        ("PaymentFailed", "abandoned", 10, "Abandonada"),
        ("PaymentRefunded", "reversed", 6, "Reversada"),
    ],
)
def test_other_outcomes(event_type: str, status: str, cod: int, response: str) -> None:
    data = event_data(status=status, cod_respuesta=cod, reason="insufficient_funds")
    fields = form_fields(event_type, data, AT, test=False)
    assert fields["x_cod_response"] == str(cod)
    assert fields["x_response"] == response
    assert fields["x_response_reason_text"] == "insufficient_funds"
    assert fields["x_test_request"] == "FALSE"


def test_refund_carries_its_id() -> None:
    data = event_data(status="reversed", cod_respuesta=6, refund_id="rf_1")
    assert form_fields("PaymentRefunded", data, AT, test=True)["x_refund_id"] == "rf_1"


def test_a_partial_refund_says_what_it_gave_back_and_leaves_the_payment_approved() -> None:
    data = event_data(
        status="approved",
        cod_respuesta=1,
        refund_id="rf_2",
        refund_amount="5000.00",
        refunded_amount="7500.00",
    )
    fields = form_fields("PaymentRefunded", data, AT, test=True)
    assert (fields["x_cod_response"], fields["x_refund_id"]) == ("1", "rf_2")
    assert (fields["x_refund_amount"], fields["x_refunded_amount"]) == ("5000.00", "7500.00")
    assert fields["x_amount"] == data["amount"]  # the payment's amount, as in every webhook


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("PaymentCreated", event_data()),
        ("PaymentCompleted", {k: v for k, v in event_data().items() if k != "ref_payco"}),
        ("PaymentCompleted", event_data(cod_respuesta=99)),
        ("PaymentCompleted", event_data(cod_respuesta="x")),
    ],
)
def test_what_cannot_be_a_webhook(event_type: str, data: dict[str, Any]) -> None:
    with pytest.raises(NotAWebhook):
        form_fields(event_type, data, AT, test=True)


def test_backoff_doubles_then_caps() -> None:
    assert [backoff_s(n, 5.0, 60.0) for n in range(1, 7)] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    assert schedule(4, 0.5, 100.0) == [0.5, 1.0, 2.0]
    assert schedule(1, 5.0, 60.0) == []
    assert backoff_s(10_000, 1.0, 30.0) == 30.0  # no overflow for absurd attempt numbers
    with pytest.raises(ValueError, match="from 1"):
        backoff_s(0, 1.0, 2.0)
