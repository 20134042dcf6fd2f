"""The gateway's settings (PAYLAB_GATEWAY_* variables), validated once at start."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paylab.core.settings import http_url

UPSTREAMS = ("auth", "payment", "wallet", "merchant", "notification", "audit")


class GatewaySettings(BaseSettings):
    """Upstream base URLs, timeouts, the token contract, limits."""

    model_config = SettingsConfigDict(env_prefix="PAYLAB_GATEWAY_", extra="ignore")

    auth_url: str = "http://127.0.0.1:8001"
    payment_url: str = "http://127.0.0.1:8002"
    wallet_url: str = "http://127.0.0.1:8003"
    merchant_url: str = "http://127.0.0.1:8004"
    notification_url: str = "http://127.0.0.1:8005"
    audit_url: str = "http://127.0.0.1:8006"

    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    upstream_timeout_seconds: float = Field(default=15.0, gt=0)  # read and write → 504
    pool_timeout_seconds: float = Field(default=2.0, gt=0)
    max_connections: int = Field(default=200, ge=1)

    # Must equal auth's issuer and audience (a unit test keeps the defaults in step).
    jwt_issuer: str = "https://auth.paylab.dev"
    jwt_audience: str = "paylab-api"
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    max_token_bytes: int = Field(default=4096, ge=256)
    # auth's JWKS is refetched this often, so a key auth stopped publishing (two rotations
    # old) is refused within it; a token with an unknown kid (a new key) waits for a fetch
    # newer than itself, fetches being at least min_interval apart.
    jwks_max_age_seconds: float = Field(default=15.0, gt=0, le=3600)
    jwks_refresh_min_interval_seconds: float = Field(default=1.0, ge=0, le=10)

    # Where auth lists revoked API keys (must equal auth's setting; a unit test checks).
    revocation_key_prefix: str = "paylab:revoked-api-key:"

    # Changing where a merchant's money and notices go (payout account, profile) needs a token
    # issued this recently: a stolen older token cannot (RFC 9470 step-up; log in again).
    step_up_max_age_seconds: int = Field(default=300, ge=1, le=86400)

    rate_limit_per_minute: int = Field(default=600, ge=1)  # per merchant
    anonymous_rate_limit_per_minute: int = Field(default=60, ge=1)  # per client IP
    redis_key_prefix: str = "paylab:gateway:"
    max_body_bytes: int = Field(default=64 * 1024, ge=1)
    # Proxies in front of the gateway whose X-Forwarded-For entries are trusted (0: none).
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)
    # A header the proxy in front sets to the client's address, overwriting whatever the client
    # sent (on AWS API Gateway's `x-paylab-client-ip`, infra/compute.yaml); it then wins over
    # X-Forwarded-For. Unset locally: nothing stands in front of the gateway.
    client_ip_header: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$")

    @field_validator(*(f"{u}_url" for u in UPSTREAMS))
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)

    def upstream_url(self, service: str) -> str:
        """The base URL of one upstream service."""
        if service not in UPSTREAMS:
            raise KeyError(service)
        return str(getattr(self, f"{service}_url"))
