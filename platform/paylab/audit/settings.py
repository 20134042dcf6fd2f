"""The audit service's settings (PAYLAB_AUDIT_*), validated once at startup."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuditSettings(BaseSettings):
    """How `verify` reads the chain, and the database pool."""

    model_config = SettingsConfigDict(env_prefix="PAYLAB_AUDIT_", extra="ignore")

    # Rows `verify` reads per round trip: memory stays flat, round trips stay few.
    verify_batch_size: int = Field(default=2000, ge=10, le=50_000)
    # A merchant's GET /v1/audit/verify reuses a walk this recent (each walk reads the whole
    # chain, every merchant's rows); an operator's /internal/audit/verify always walks.
    verify_reuse_seconds: float = Field(default=30.0, ge=0, le=3600)
    # The HTTP routes and the queue consumer share it when they run in one process (no
    # overflow: appends serialize on the chain head); appends beyond it wait for a connection.
    pool_size: int = Field(default=5, ge=1, le=50)


@lru_cache(maxsize=1)
def get_audit_settings() -> AuditSettings:
    """The process-wide audit settings."""
    return AuditSettings()
