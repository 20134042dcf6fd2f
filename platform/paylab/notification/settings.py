"""The notification service's settings (PAYLAB_NOTIFICATION_*), validated once."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paylab.core.settings import http_url

_EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,190}$"


class NotificationSettings(BaseSettings):
    """Who emails come from, where the SMS provider is, and how patiently to call it."""

    model_config = SettingsConfigDict(env_prefix="PAYLAB_NOTIFICATION_", extra="ignore")

    sender_email: str = Field(default="notificaciones@paylab.local", pattern=_EMAIL)
    # Verify the sender with SES on first use: LocalStack refuses unverified senders and the
    # CloudFormation provider of AWS::SES::EmailIdentity is not implemented there. On AWS the
    # identity is verified once by operations, so this is switched off there.
    verify_sender: bool = True

    sms_url: str = "http://127.0.0.1:9004"
    # An alphanumeric sender id (at most 11 characters), as Colombian carriers allow.
    sms_sender: str = Field(default="Paylab", pattern=r"^[A-Za-z0-9 ]{1,11}$")
    # Numbers given without a country code are Colombian.
    default_country_code: str = Field(default="57", pattern=r"^[1-9][0-9]{0,2}$")
    # Send the partner API key (X-Api-Key, from the SMS key's secret in Secrets Manager).
    sms_api_key_from_secret: bool = True
    sms_connect_timeout_s: float = Field(default=2.0, gt=0, le=30)
    sms_read_timeout_s: float = Field(default=5.0, gt=0, le=60)
    sms_attempts: int = Field(default=3, ge=1, le=10)
    sms_backoff_s: float = Field(default=0.2, ge=0, le=5)

    # A redelivery waits at most this long for another worker sending the same message.
    lock_timeout_s: float = Field(default=30.0, gt=0, le=300)

    @field_validator("sms_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)


@lru_cache(maxsize=1)
def get_notification_settings() -> NotificationSettings:
    """The process-wide notification settings."""
    return NotificationSettings()
