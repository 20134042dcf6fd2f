"""Templates: Spanish text, Colombian amounts and dates, every placeholder filled."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from paylab.notification.rendering import local_datetime, long_date, money, render
from simulators.sms.numbers import encoding_and_segments

UNFILLED = re.compile(r"\$\{?[A-Za-z_]")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("30000.00", "COP", "$30.000,00 COP"),
        ("30000", "COP", "$30.000,00 COP"),
        ("1234567.5", "COP", "$1.234.567,50 COP"),
        ("999.99", "COP", "$999,99 COP"),
        ("0.5", "USD", "$0,50 USD"),
        ("1000000000.00", "COP", "$1.000.000.000,00 COP"),
        ("-28203.00", "COP", "-$28.203,00 COP"),
    ],
)
def test_money_is_formatted_the_colombian_way(amount: str, currency: str, expected: str) -> None:
    assert money(Decimal(amount), currency) == expected


def test_dates_are_spanish_and_in_bogota_time() -> None:
    assert long_date(date(2026, 12, 4)) == "4 de diciembre de 2026"
    assert long_date(date(2027, 1, 31)) == "31 de enero de 2027"
    # 03:30 UTC on the 5th is still the evening of the 4th in Bogotá (UTC-5).
    assert local_datetime(datetime(2026, 12, 5, 3, 30, tzinfo=UTC)) == "04/12/2026 22:30"


def _payment_values(**extra: str) -> dict[str, str]:
    return {
        "greeting": " Ana",
        "amount": "$30.000,00 COP",
        "ref_payco": "100000135",
        "reference": "order-1001",
        "method": "Tarjeta",
        "cod_respuesta": "1",
        "date": "04/12/2026 14:53",
        **extra,
    }


def test_receipt_email_has_subject_and_the_payment_in_spanish() -> None:
    email = render("payment_receipt", "email", _payment_values())
    assert email.subject == "Comprobante de pago 100000135: $30.000,00 COP aprobado"
    assert email.body.startswith("Hola Ana,")
    assert "Tu pago fue aprobado" in email.body
    assert "Valor: $30.000,00 COP" in email.body
    assert "Referencia del comercio: order-1001" in email.body
    assert not UNFILLED.search(email.body.replace("$30.000,00", ""))


def test_failure_email_says_why_and_that_nothing_was_charged() -> None:
    values = _payment_values(status_label="Rechazada", outcome="fondos insuficientes")
    values["cod_respuesta"] = "2"
    email = render("payment_failure", "email", values)
    assert email.subject == "Tu pago 100000135 por $30.000,00 COP no fue aprobado"
    assert "Tu pago no fue aprobado: fondos insuficientes." in email.body
    assert "Estado: Rechazada (código 2)" in email.body
    assert "No se realizó ningún cobro" in email.body


@pytest.mark.parametrize("template", ["payment_receipt", "payment_failure"])
def test_sms_fit_one_gsm7_segment_even_for_big_amounts(template: str) -> None:
    values = _payment_values(amount="$100.000.000,00 COP", ref_payco="999999999999")
    sms = render(template, "sms", values)
    assert sms.subject is None
    assert "$100.000.000,00 COP" in sms.body and "999999999999" in sms.body
    # Accented vowels would switch the SMS to UCS-2 (70 characters a segment).
    assert encoding_and_segments(sms.body) == ("GSM-7", 1)


def test_a_missing_value_is_an_error_not_a_placeholder_sent_to_a_customer() -> None:
    values = _payment_values()
    del values["amount"]
    with pytest.raises(KeyError, match="amount"):
        render("payment_receipt", "email", values)


def test_dispersion_and_summary_templates() -> None:
    dispersion = render(
        "dispersion",
        "email",
        {
            "amount": "$28.203,00 COP",
            "date": "4 de diciembre de 2026",
            "merchant_id": "m-1",
            "account": "terminada en 1234",
            "reference": "bank-77",
        },
    )
    assert dispersion.subject == (
        "Dispersión del 4 de diciembre de 2026: $28.203,00 COP transferidos a tu cuenta"
    )
    assert "cuenta bancaria terminada en 1234" in dispersion.body
    summary = render(
        "daily_summary",
        "email",
        {
            "date": "4 de diciembre de 2026",
            "approved_count": "3",
            "approved_amount": "$90.000,00 COP",
            "declined_count": "1",
            "refunded_count": "0",
            "merchant_id": "m-1",
        },
    )
    assert (
        summary.subject
        == "Resumen del 4 de diciembre de 2026: 3 pagos aprobados por $90.000,00 COP"
    )
    assert "Pagos no aprobados: 1" in summary.body
