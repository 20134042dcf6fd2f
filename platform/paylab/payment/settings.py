"""The payment service's settings (PAYLAB_PAYMENT_*), validated once."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paylab.core.settings import http_url


class PaymentSettings(BaseSettings):
    """Partner endpoints, the public callback URL, idempotency and SAGA knobs."""

    model_config = SettingsConfigDict(env_prefix="PAYLAB_PAYMENT_", extra="ignore")

    bank_url: str = "http://127.0.0.1:9002"
    pse_url: str = "http://127.0.0.1:9001"
    antifraud_url: str = "http://127.0.0.1:9003"
    # The wallet's internal API (refunds move money back in the ledger).
    wallet_url: str = "http://127.0.0.1:8003"
    # Where partners reach this service (PSE confirmations land on /callbacks/pse).
    public_base_url: str = "http://127.0.0.1:8002"
    # Where PSE sends the payer's browser when the merchant gave no return_url.
    default_return_url: str = "http://127.0.0.1:3000/return"

    partner_connect_timeout_s: float = Field(default=2.0, gt=0, le=30)
    partner_read_timeout_s: float = Field(default=8.0, gt=0, le=120)
    partner_attempts: int = Field(default=3, ge=1, le=10)
    partner_backoff_s: float = Field(default=0.1, ge=0, le=5)

    idempotency_ttl_s: int = Field(default=86_400, ge=60, le=30 * 86_400)
    # How long a duplicate waits for the first request with its key before a 409.
    idempotency_wait_s: float = Field(default=15.0, ge=0, le=120)

    # How long the SAGA waits for a PSE confirmation before abandoning the payment.
    pse_timeout_seconds: int = Field(default=900, ge=1, le=86_400)
    # How long a payment antifraud held for review waits for an operator before it is released
    # and rejected (`review-timeout`); Step Functions caps a task at one year.
    review_timeout_seconds: int = Field(default=86_400, ge=1, le=30 * 86_400)
    # Overrides of the stack outputs (tests point these at throwaway resources).
    saga_state_machine_arn: str | None = None
    event_store_table: str | None = None
    # The secret PSE signs confirmations with (default: stack output PseCallbackSecretArn).
    pse_callback_secret_id: str | None = None

    @field_validator("bank_url", "pse_url", "antifraud_url", "wallet_url", "public_base_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return http_url(value)

    @field_validator("default_return_url")
    @classmethod
    def _return_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

    @property
    def pse_confirmation_url(self) -> str:
        """This service's public URL for PSE confirmations."""
        return f"{self.public_base_url}/callbacks/pse"


@lru_cache(maxsize=1)
def get_payment_settings() -> PaymentSettings:
    """The process-wide payment settings."""
    return PaymentSettings()
