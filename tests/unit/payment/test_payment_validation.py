"""`POST /v1/payments` bodies: what is accepted and which field a rejection names."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from paylab.payment.schemas import PaymentIn, luhn_ok


def card_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": "30000.00",
        "currency": "COP",
        "method": "card",
        "reference": "order-1",
        "customer": {"email": "ana@example.com", "name": "Ana"},
        "card": {"number": "4575623182290326", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    }
    body.update(overrides)
    return body


def fields(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in exc.errors()}


def test_ePayco_test_cards_pass_luhn() -> None:
    for number in ("4575623182290326", "4151611527583283", "5170394490379427", "373118856457642"):
        assert luhn_ok(number)
    assert not luhn_ok("4575623182290327")


def test_valid_bodies_for_each_method() -> None:
    PaymentIn.model_validate(card_body())
    PaymentIn.model_validate(
        card_body(
            method="pse",
            card=None,
            pse={
                "bank_code": "1007",
                "person_type": "natural",
                "doc_type": "CC",
                "doc_number": "1020304050",
            },
            return_url="https://shop.example/return",
        )
    )
    PaymentIn.model_validate(
        card_body(
            method="wallet",
            card=None,
            wallet={"account_id": "0b6f3c1e-7c3a-4d55-9a55-2f1f4f0a0a01"},
            currency="USD",
            amount="10.5",
        )
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": 30000}, "amount"),
        ({"amount": "0.00"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "100000000.01"}, ""),
        ({"currency": "EUR"}, "currency"),
        ({"method": "cash"}, "method"),
        ({"reference": ""}, "reference"),
        ({"customer": {"email": "not-an-email", "name": "A"}}, "customer.email"),
        ({"confirmation_url": "ftp://x.example/c"}, "confirmation_url"),
        ({"return_url": "javascript:alert(1)"}, "return_url"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_bad_fields_are_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        PaymentIn.model_validate(card_body(**overrides))
    assert field in fields(exc.value)


@pytest.mark.parametrize(
    ("card", "field"),
    [
        ({"number": "4575623182290327"}, "card.number"),
        ({"number": "4575-6231"}, "card.number"),
        ({"exp_month": 13}, "card.exp_month"),
        ({"exp_month": "12"}, "card.exp_month"),
        ({"exp_year": 2020}, "card"),
        ({"cvc": "12"}, "card.cvc"),
        ({"cvc": "1234"}, "card"),
    ],
)
def test_bad_cards_are_refused(card: dict[str, Any], field: str) -> None:
    base = card_body()["card"]
    with pytest.raises(ValidationError) as exc:
        PaymentIn.model_validate(card_body(card={**base, **card}))
    assert field in fields(exc.value)


def test_amex_needs_a_four_digit_cvc() -> None:
    amex = {"number": "373118856457642", "exp_month": 12, "exp_year": 2030, "cvc": "1234"}
    PaymentIn.model_validate(card_body(card=amex))
    with pytest.raises(ValidationError):
        PaymentIn.model_validate(card_body(card={**amex, "cvc": "123"}))


@pytest.mark.parametrize(
    "overrides",
    [
        {"method": "pse"},  # card details with method pse
        {"method": "card", "card": None},
        {"wallet": {"account_id": "0b6f3c1e-7c3a-4d55-9a55-2f1f4f0a0a01"}},  # two methods
        {"method": "wallet", "card": None, "wallet": {"account_id": "not-a-uuid"}},
        {
            "method": "pse",
            "card": None,
            "currency": "USD",
            "pse": {
                "bank_code": "1007",
                "person_type": "natural",
                "doc_type": "CC",
                "doc_number": "1020304050",
            },
        },
        {
            "method": "pse",
            "card": None,
            "pse": {
                "bank_code": "1007",
                "person_type": "robot",
                "doc_type": "CC",
                "doc_number": "1020304050",
            },
        },
    ],
)
def test_method_details_must_match_the_method(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PaymentIn.model_validate(card_body(**overrides))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"description": "Camiseta\x00"}, "description"),
        ({"description": "two\nlines"}, "description"),
        ({"customer": {"email": "ana@example.com", "name": "A\x00na"}}, "customer.name"),
        ({"customer": {"email": "an\x00a@example.com", "name": "Ana"}}, "customer.email"),
    ],
)
def test_control_characters_in_free_text_are_refused(overrides: dict[str, Any], field: str) -> None:
    """Regression (found by schemathesis): a NUL reached Postgres and the API answered 500."""
    with pytest.raises(ValidationError) as exc:
        PaymentIn.model_validate(card_body(**overrides))
    assert fields(exc.value) == {field}
    PaymentIn.model_validate(card_body(description="Camiseta talla M, azul — ñandú"))
