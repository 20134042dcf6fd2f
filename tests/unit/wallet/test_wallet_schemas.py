"""Bad input is refused at the edge with field errors: floats, sub-cent, zero, unknown currency."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from paylab.wallet.schemas import HoldCreate, HoldRelease, TopupCreate
from paylab.wallet.settings import WalletSettings

HOLD = {
    "operation_id": "op-1",
    "payment_id": "pay-1",
    "merchant_id": "m-1",
    "method": "card",
    "amount": "30000.00",
    "currency": "COP",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 30000.0}, "amount"),  # a JSON number, even a whole one
        ({"amount": 30000}, "amount"),
        ({"amount": "30000.001"}, "amount"),
        ({"amount": "0.00"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "1e5"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "99999999999999.00"}, "amount"),  # 14 digits: beyond the column
        ({"currency": "EUR"}, "currency"),
        ({"method": "cash"}, "method"),
        ({"operation_id": ""}, "operation_id"),
        ({"operation_id": "has space"}, "operation_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_hold_requests_refuse_bad_fields(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        HoldCreate.model_validate({**HOLD, **change})
    assert field in {str(e["loc"][0]) for e in err.value.errors()}


def test_wallet_holds_need_the_payer_and_card_holds_refuse_one() -> None:
    with pytest.raises(ValidationError, match="payer_account_id is required"):
        HoldCreate.model_validate({**HOLD, "method": "wallet"})
    payer = "6f1c0e0a-8d43-4c1e-9f3b-0b5d2b8f7a10"
    with pytest.raises(ValidationError, match="only allowed"):
        HoldCreate.model_validate({**HOLD, "payer_account_id": payer})
    assert HoldCreate.model_validate({**HOLD, "method": "wallet", "payer_account_id": payer})


def test_valid_requests_parse() -> None:
    assert TopupCreate.model_validate({"amount": "10", "currency": "USD"}).amount == "10"
    assert HoldRelease.model_validate({"operation_id": "r:1", "reason": "declined"})


def test_settings_fail_fast_on_a_missing_currency_or_sub_cent_fee() -> None:
    with pytest.raises(ValidationError, match="needs a value"):
        WalletSettings(fee_fixed={"COP": Decimal("900.00")})  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="2 decimals"):
        WalletSettings(fee_fixed={"COP": Decimal("900.001"), "USD": Decimal("0.30")})  # type: ignore[dict-item]
    with pytest.raises(ValidationError):
        WalletSettings(fee_rate=Decimal("1.5"))


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYLAB_WALLET_FEE_RATE", "0.035")
    monkeypatch.setenv("PAYLAB_WALLET_LOW_BALANCE_THRESHOLD", '{"COP": "1000.00", "USD": "1.00"}')
    settings = WalletSettings()
    assert settings.fee_rate == Decimal("0.035")
    assert settings.low_balance_threshold["COP"] == Decimal("1000.00")
