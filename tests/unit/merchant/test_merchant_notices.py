"""The events telling a merchant where its money and notices go fit their contracts."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter, ValidationError

from paylab.core.event_schemas import validate
from paylab.merchant import schemas
from paylab.merchant.models import Merchant
from paylab.merchant.notices import account_changed, email_changed


def merchant(email: str = "pagos@tienda.co") -> Merchant:
    return Merchant(id="merchant-1", email=email)


@pytest.mark.parametrize(
    ("local", "masked"),
    [("a", "a***"), ("ab", "a***"), ("abc", "a***"), ("abcd", "ab***"), ("x" * 64, "xx***")],
)
def test_email_changed_masks_the_new_address_and_fits_its_contract(local: str, masked: str) -> None:
    event = email_changed(merchant("viejo@tienda.co"), f"{local}@correo.example.co")
    validate(json.loads(event.to_json()))
    assert event.data["previous_email"] == "viejo@tienda.co"
    assert event.data["new_email_masked"] == f"{masked}@correo.example.co"


def test_payout_account_changed_fits_its_contract() -> None:
    account = schemas.PayoutAccountIn(
        bank_code="1007", account_type="savings", account_number="00123456789", holder_name="T"
    )
    event = account_changed(merchant(), account, "00999880001")
    validate(json.loads(event.to_json()))
    assert (event.data["account_last4"], event.data["previous_account_last4"]) == ("6789", "0001")


@pytest.mark.parametrize(
    "address", ["x" * 65 + "@tienda.co", "a@" + "b" * 189 + ".co", "a@tienda." + "c" * 64]
)
def test_an_address_no_event_could_carry_is_refused_at_the_door(address: str) -> None:
    """Past the events' limits (64 local, 190 domain; a top-level domain past DNS's 63):
    refused with a 422 on signup and profile changes, never a 500 when the change's event
    is written."""
    with pytest.raises(ValidationError):
        TypeAdapter(schemas.Email).validate_python(address)
    TypeAdapter(schemas.Email).validate_python("x" * 64 + "@" + "b" * 126 + ".co")
