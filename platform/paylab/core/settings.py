"""Platform settings: one validated pydantic-settings class, read from PAYLAB_* variables."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Target(StrEnum):
    LOCAL = "local"
    AWS = "aws"


def http_url(value: str) -> str:
    """A settings validator: an http(s) base URL, without its trailing slash."""
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _default_root() -> Path:
    # platform/paylab/core/settings.py -> repository root
    return Path(__file__).resolve().parents[3]


class Settings(BaseSettings):
    """Where the platform runs and how to reach its AWS and data planes."""

    model_config = SettingsConfigDict(env_prefix="PAYLAB_", extra="ignore")

    target: Target = Target.LOCAL
    root: Path = Field(default_factory=_default_root)
    region: str = "us-east-1"
    # Locally every AWS call goes to LocalStack; on AWS this stays unset.
    aws_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    stack_name: str = "paylab"

    localstack_port: int = Field(default=4566, ge=1, le=65535)
    postgres_port: int = Field(default=5432, ge=1, le=65535)
    redis_port: int = Field(default=6379, ge=1, le=65535)
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    # What Redis asks clients for: ElastiCache's AUTH token on AWS, which the task definitions
    # hand the processes from Secrets Manager (infra/compute.yaml); none locally.
    redis_password: SecretStr | None = Field(default=None, validation_alias="REDIS_PASSWORD")
    # The partner simulators already run on their ports (compose's containers): `up` starts
    # none, waits for them and configures them as it would its own.
    external_simulators: bool = False
    # Check every event against contracts/events when it enters the outbox. Unset, it is on
    # locally (tests and the dev stack catch a drifting producer at once) and off on AWS, where
    # a contract slip must not fail a customer's payment (the suite has already checked it).
    validate_events: bool | None = None
    # `up` forks the services and simulators from one launcher that imports their common
    # libraries once (paylab.devstack.launcher); off, each starts as a plain process.
    prefork: bool = True

    @field_validator("aws_endpoint_url")
    @classmethod
    def _endpoint_is_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"AWS_ENDPOINT_URL must be an http(s) URL, got {value!r}")
        return value or None

    @property
    def state_dir(self) -> Path:
        """Everything the local stack writes: data, logs, PIDs, virtual environments."""
        return self.root / ".paylab"

    def redis_dsn(self) -> str:
        """REDIS_URL when given (ElastiCache on AWS), else the local stack's Redis; with
        REDIS_PASSWORD in it when that is set."""
        url = self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"
        if self.redis_password is None:
            return url
        parts = urlsplit(url)
        password = quote(self.redis_password.get_secret_value(), safe="")
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f":{password}@{host}"))

    def database_dsn(self) -> str:
        """DATABASE_URL when given (Aurora on AWS), else the local stack's Postgres."""
        return self.database_url or f"postgresql://127.0.0.1:{self.postgres_port}/paylab"

    def events_validated(self) -> bool:
        """Whether `outbox.add_event` checks events against their schemas."""
        if self.validate_events is not None:
            return self.validate_events
        return self.target is Target.LOCAL

    def endpoint_url(self) -> str | None:
        """The AWS endpoint: LocalStack locally (unless overridden), none on AWS."""
        if self.aws_endpoint_url:
            return self.aws_endpoint_url
        if self.target is Target.LOCAL:
            return f"http://127.0.0.1:{self.localstack_port}"
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated once."""
    return Settings()
