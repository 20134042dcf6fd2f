"""SMS simulator request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

_Strict = ConfigDict(extra="forbid", strict=True)
SmsStatus = Literal["queued", "sent", "delivered", "failed", "undelivered"]


class MessageIn(BaseModel):
    """Send one SMS."""

    model_config = _Strict
    to: str = Field(
        min_length=1,
        max_length=32,
        description="E.164, e.g. +573001234567",
        examples=["+573001234567"],
    )
    body: str = Field(min_length=1, max_length=1600)
    sender: str | None = Field(default=None, pattern=r"^[A-Za-z0-9 ]{1,11}$|^[0-9]{3,15}$")
    reference: str | None = Field(default=None, max_length=64)
    callback_url: AnyHttpUrl | None = Field(
        default=None, description="Where delivery receipts are POSTed"
    )


class MessageOut(BaseModel):
    """A message and its delivery status."""

    id: str
    to: str
    body: str
    sender: str | None
    reference: str | None
    status: SmsStatus
    error_code: str | None
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    created_at: float
    updated_at: float


class MessageList(BaseModel):
    """Messages, newest first."""

    messages: list[MessageOut]


class SmsSettings(BaseModel):
    """SMS simulator settings."""

    delivery_delay_ms: int = Field(default=200, ge=0, le=3_600_000)


class SmsSettingsPatch(BaseModel):
    """Fields to change."""

    model_config = _Strict
    delivery_delay_ms: int | None = Field(default=None, ge=0, le=3_600_000)
