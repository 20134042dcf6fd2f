"""Per-merchant PSE timeout: what the operator may set, and what the SAGA starts with."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic import ValidationError

from paylab.payment import merchant_settings, service
from paylab.payment.domain import PaymentState, Status
from paylab.payment.merchant_settings import MerchantSettingsIn
from paylab.payment.settings import PaymentSettings
from paylab.payment.wiring import Services

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def pending(method: str, merchant_id: str = "m-1") -> PaymentState:
    return PaymentState(
        id="p-1",
        merchant_id=merchant_id,
        ref_payco="100000001",
        reference="order-1",
        description="",
        method=method,
        amount=Decimal("45000.00"),
        currency="COP",
        status=Status.PENDING,
        customer={},
        idempotency_key="k",
        request_hash="h",
        version=1,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.fixture
def svc(monkeypatch: pytest.MonkeyPatch) -> Services:
    """Services with the default timeout; merchant m-5 has an operator's override of 5 s."""
    overrides = {"m-5": 5}
    lookups: list[str] = []

    def override(_svc: Services, merchant_id: str) -> int | None:
        lookups.append(merchant_id)
        return overrides.get(merchant_id)

    monkeypatch.setattr(merchant_settings, "_override", override)
    fake = SimpleNamespace(settings=PaymentSettings(pse_timeout_seconds=900), lookups=lookups)
    return cast(Services, fake)


def test_a_pse_payment_waits_as_long_as_its_merchant_was_set_to(svc: Services) -> None:
    assert service.saga_input(svc, pending("pse", "m-5"))["pse_timeout_seconds"] == 5
    assert service.saga_input(svc, pending("pse", "m-other"))["pse_timeout_seconds"] == 900


def test_card_payments_skip_the_lookup(svc: Services) -> None:
    assert service.saga_input(svc, pending("card", "m-5"))["pse_timeout_seconds"] == 900
    assert cast(Any, svc).lookups == []


def test_effective_settings_say_where_they_come_from(svc: Services) -> None:
    assert merchant_settings.settings_of(svc, "m-5").model_dump() == {
        "merchant_id": "m-5",
        "pse_timeout_seconds": 5,
        "pse_timeout_source": "merchant",
    }
    assert merchant_settings.settings_of(svc, "m-2").pse_timeout_source == "default"


@pytest.mark.parametrize("value", [0, -1, 86_401, "soon", 1.5])
def test_out_of_range_timeouts_are_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        MerchantSettingsIn.model_validate({"pse_timeout_seconds": value})


def test_null_restores_the_default_but_the_field_is_required() -> None:
    assert (
        MerchantSettingsIn.model_validate({"pse_timeout_seconds": None}).pse_timeout_seconds is None
    )
    assert (
        MerchantSettingsIn.model_validate({"pse_timeout_seconds": 86_400}).pse_timeout_seconds
        == 86_400
    )
    with pytest.raises(ValidationError):
        MerchantSettingsIn.model_validate({})
    with pytest.raises(ValidationError):
        MerchantSettingsIn.model_validate({"pse_timeout_seconds": 5, "review_timeout": 3})
