"""The merchant service's settings (PAYLAB_MERCHANT_*), validated once."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paylab.core.settings import Target, get_settings, http_url


class UrlPolicy(StrEnum):
    """Which hosts a confirmation URL may point at (SSRF guard)."""

    LOOPBACK = "loopback"  # local stack: only this machine, never the LAN or the internet
    PUBLIC = "public"  # AWS: only globally routable addresses, never the VPC or metadata


class MerchantSettings(BaseSettings):
    """Where auth and wallet are, the webhook policy and retry schedule, signup limits."""

    model_config = SettingsConfigDict(env_prefix="PAYLAB_MERCHANT_", extra="ignore")

    auth_url: str = "http://127.0.0.1:8001"
    wallet_url: str = "http://127.0.0.1:8003"
    internal_timeout_s: float = Field(default=5.0, gt=0, le=60)
    internal_attempts: int = Field(default=3, ge=1, le=10)

    # None: derived from PAYLAB_TARGET (local → loopback, aws → public).
    webhook_url_policy: UrlPolicy | None = None
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=30)
    # Attempt n waits base * 2**(n-1) seconds (capped) before attempt n+1.
    webhook_max_attempts: int = Field(default=6, ge=1, le=20)
    webhook_backoff_base_s: float = Field(default=5.0, gt=0, le=3600)
    webhook_backoff_max_s: float = Field(default=600.0, gt=0, le=86_400)
    # ePayco sends x_test_request=TRUE from its test environment; so does every local stack.
    webhook_test_request: bool = True
    delivery_worker: bool = True
    # The loop wakes on a new delivery and when the next retry is due; this bounds its sleep.
    delivery_poll_s: float = Field(default=30.0, gt=0, le=300)
    delivery_batch: int = Field(default=10, ge=1, le=200)
    # Deliveries are recorded in this lane and the loop claims only this lane's rows: a test's
    # own copy of the service (fast retries) never races the stack's over the same table. The
    # stack's payments are recorded by the merchant-ops consumer (workers process) with the
    # workers' setting: a merchant service given another lane never sends them.
    delivery_lane: str = Field(default="default", min_length=1, max_length=40)

    # Self-signup is public (behind the gateway): at most this many per client IP and hour.
    signups_per_ip_per_hour: int = Field(default=10, ge=1, le=100_000)
    redis_key_prefix: str = "paylab:merchant:"
    # Dispersion pays out only balances at least this large (per-merchant override in the DB).
    payout_minimum_cop: Decimal = Field(default=Decimal("50000.00"), gt=0)
    # The bank (simulator locally) that pays dispersions out; its API key is `partner_auth`'s.
    bank_url: str = "http://127.0.0.1:9002"
    bank_timeout_s: float = Field(default=10.0, gt=0, le=60)
    bank_attempts: int = Field(default=3, ge=1, le=10)
    # The per (merchant, day) Redis lock: held at most lock_ttl_s (a crashed run's lock
    # expires), and a second run waits up to lock_wait_s for the first before skipping.
    dispersion_lock_ttl_s: float = Field(default=120.0, gt=0, le=3600)
    dispersion_lock_wait_s: float = Field(default=15.0, ge=0, le=300)

    @field_validator("auth_url", "wallet_url", "bank_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return http_url(value)

    @model_validator(mode="after")
    def _policy_from_target(self) -> MerchantSettings:
        if self.webhook_url_policy is None:
            local = get_settings().target is Target.LOCAL
            self.webhook_url_policy = UrlPolicy.LOOPBACK if local else UrlPolicy.PUBLIC
        return self

    @property
    def url_policy(self) -> UrlPolicy:
        """The webhook URL policy in force (never None after validation)."""
        assert self.webhook_url_policy is not None
        return self.webhook_url_policy


@lru_cache(maxsize=1)
def get_merchant_settings() -> MerchantSettings:
    """The process-wide merchant settings."""
    return MerchantSettings()
