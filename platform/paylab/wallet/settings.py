"""The wallet's settings (PAYLAB_WALLET_*): fees, thresholds and limits, validated once."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paylab.wallet.ledger import CENT, Currency


def _per_currency(cop: str, usd: str) -> dict[Currency, Decimal]:
    return {Currency.COP: Decimal(cop), Currency.USD: Decimal(usd)}


class WalletSettings(BaseSettings):
    """Pricing and limits; maps are JSON in the environment, e.g. '{"COP": "900.00", ...}'."""

    model_config = SettingsConfigDict(env_prefix="PAYLAB_WALLET_", extra="ignore")

    # ePayco's published card pricing: 2.99% plus a fixed amount per transaction.
    fee_rate: Decimal = Field(default=Decimal("0.0299"), ge=0, lt=1)
    fee_fixed: dict[Currency, Decimal] = Field(
        default_factory=lambda: _per_currency("900.00", "0.30")
    )
    low_balance_threshold: dict[Currency, Decimal] = Field(
        default_factory=lambda: _per_currency("50000.00", "20.00")
    )
    # A refund gives the platform fee back pro rata (docs/decisions.md, "Refunds").
    refund_returns_fee: bool = True
    # One operation may move at most this much; anything larger is a typo or an attack.
    max_amount: Decimal = Field(default=Decimal("1000000000.00"), gt=0)
    # Far below NUMERIC(18,2)'s limit, so a balance can never overflow its column.
    max_balance: Decimal = Field(default=Decimal("1000000000000.00"), gt=0, lt=Decimal("1e15"))

    @field_validator("fee_fixed", "low_balance_threshold")
    @classmethod
    def _every_currency_in_cents(cls, value: dict[Currency, Decimal]) -> dict[Currency, Decimal]:
        missing = set(Currency) - set(value)
        if missing:
            raise ValueError(f"needs a value for {sorted(missing)}")
        for currency, amount in value.items():
            if amount < 0 or amount != amount.quantize(CENT):
                raise ValueError(f"{currency}: {amount} must be >= 0 with at most 2 decimals")
        return value


@lru_cache(maxsize=1)
def get_wallet_settings() -> WalletSettings:
    """The process-wide wallet settings."""
    return WalletSettings()
