"""The compiled fast check and the reference validator accept exactly the same events."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_event_schemas import payment_completed

from paylab.core import event_schemas

VARIANTS: list[dict[str, Any]] = [
    {},
    {"amount": 40000.0},
    {"amount": "40000"},
    {"amount": "0.00"},
    {"amount": "1.50"},
    {"currency": "USD"},
    {"currency": "EUR"},
    {"method": "pse"},
    {"method": "cash"},
    {"status": "rejected", "cod_respuesta": 2},
    {"cod_respuesta": 4},
    {"payment_id": "p-1"},
    {"card_token": "tok_1"},
    {"reason": "because"},
    {"reason": 7},
]


@pytest.mark.parametrize("change", VARIANTS)
def test_fast_and_reference_agree_on_data(change: dict[str, Any]) -> None:
    event = payment_completed(**change)
    reference = event_schemas.validator("PaymentCompleted").is_valid(event)
    assert event_schemas._fast("PaymentCompleted").is_valid(event) is reference


@pytest.mark.parametrize(
    "envelope_change",
    [{"id": "e1"}, {"source": "paylab.wallet"}, {"version": 2}, {"trace": "x"}, {"occurred_at": 1}],
)
def test_fast_and_reference_agree_on_the_envelope(envelope_change: dict[str, Any]) -> None:
    event = {**payment_completed(), **envelope_change}
    assert not event_schemas.validator("PaymentCompleted").is_valid(event)
    assert not event_schemas._fast("PaymentCompleted").is_valid(event)


def test_every_type_compiles_and_refuses_an_empty_event() -> None:
    for event_type in sorted(event_schemas.event_types()):
        assert not event_schemas._fast(event_type).is_valid({"type": event_type})


def test_a_fast_rejection_still_reports_the_reference_path() -> None:
    event = copy.deepcopy(payment_completed(amount="40000"))
    with pytest.raises(event_schemas.EventContractError) as failed:
        event_schemas.validate(event)
    assert failed.value.path == "$.data.amount"
