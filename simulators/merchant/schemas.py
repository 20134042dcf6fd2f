"""Receiver request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_Strict = ConfigDict(extra="forbid", strict=True)
CUST_ID = r"^[0-9]{1,12}$"


class MerchantKeyIn(BaseModel):
    """The merchant's p_key, as its dashboard shows it."""

    model_config = _Strict
    p_key: str = Field(min_length=1, max_length=200)


class MerchantKey(BaseModel):
    """A configured merchant (p_key never echoed back)."""

    p_cust_id_cliente: str
    p_key_sha256_prefix: str


class MerchantKeyList(BaseModel):
    merchants: list[MerchantKey]


class Removed(BaseModel):
    removed: int


class Ack(BaseModel):
    """What the receiver answers a webhook."""

    status: Literal["received"]
    id: str
    signature_valid: bool


class Webhook(BaseModel):
    """One webhook as it arrived."""

    id: str
    received_at: float
    path: str
    content_type: str
    fields: dict[str, str]
    x_ref_payco: str | None
    x_cust_id_cliente: str | None
    x_cod_response: str | None
    signature_valid: bool
    signature_note: str


class WebhookList(BaseModel):
    """Webhooks, newest first."""

    webhooks: list[Webhook]
    total: int
