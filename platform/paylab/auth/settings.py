"""The auth service's settings (PAYLAB_AUTH_* variables), validated once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The token contract the gateway checks; its settings default to the same values.
DEFAULT_ISSUER = "https://auth.paylab.dev"
DEFAULT_AUDIENCE = "paylab-api"


class AuthSettings(BaseSettings):
    """Token lifetime and claims, signing-key source, login throttling."""

    model_config = SettingsConfigDict(env_prefix="PAYLAB_AUTH_", extra="ignore")

    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86400)
    # Secrets Manager id of the signing secret; unset = the stack output JwtSigningKeySecretArn.
    jwt_secret_id: str | None = None
    # How often (at most) the secret's AWSCURRENT/AWSPREVIOUS version ids are checked
    # (DescribeSecret); a rotation is signed with within this many seconds.
    signing_key_check_seconds: float = Field(default=2.0, ge=0.1, le=60.0)

    # Login throttling (GCRA in Redis): failures per public key, failures per client IP.
    login_failures_per_key: int = Field(default=10, ge=1)
    login_failures_per_key_period_seconds: float = Field(default=900.0, gt=0)
    login_failures_per_ip: int = Field(default=30, ge=1)
    login_failures_per_ip_period_seconds: float = Field(default=300.0, gt=0)
    redis_key_prefix: str = "paylab:auth:"

    max_active_keys_per_merchant: int = Field(default=5, ge=1, le=50)

    # Revoked keys are published to Redis for the gateway (same prefix as its setting; a
    # unit test keeps the defaults in step), for the token lifetime plus this margin, which
    # covers the gateway's clock leeway and a login racing the revocation.
    revocation_key_prefix: str = "paylab:revoked-api-key:"
    revocation_margin_seconds: int = Field(default=300, ge=30, le=3600)
