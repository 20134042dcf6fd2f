"""PSE simulator request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from paylab.core.money import Money

_Strict = ConfigDict(extra="forbid", strict=True)
PseStatus = Literal["pending", "approved", "rejected", "failed", "abandoned"]


class BankOut(BaseModel):
    """A bank the payer can choose."""

    code: str
    name: str
    magic: str | None = Field(
        default=None, description="What a magic test bank does without a browser"
    )


class BankList(BaseModel):
    """The bank list, as PSE publishes it."""

    banks: list[BankOut]


class TransactionIn(BaseModel):
    """Start a PSE transfer."""

    model_config = _Strict
    amount: Money
    currency: Literal["COP"] = "COP"
    reference: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=200)
    bank_code: str = Field(pattern=r"^[0-9]{4}$")
    person_type: Literal["natural", "juridica"]
    doc_type: Literal["CC", "CE", "NIT", "TI", "PP"]
    doc_number: str = Field(pattern=r"^[0-9A-Za-z]{4,20}$")
    payer_email: str | None = Field(
        default=None, pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}$", max_length=254
    )
    return_url: AnyHttpUrl
    confirmation_url: AnyHttpUrl


class TransactionOut(BaseModel):
    """A PSE transaction."""

    id: str
    status: PseStatus
    reference: str
    amount: str
    currency: Literal["COP"]
    bank_code: str
    bank_name: str
    redirect_url: str
    return_url: str
    confirmation_url: str
    cus: str | None = Field(description="PSE's trace code (CUS), once the bank decided")
    created_at: float
    expires_at: float | None
    decided_at: float | None


class PseSettings(BaseModel):
    """PSE simulator settings."""

    expiry_ms: int = Field(default=900_000, ge=1, le=86_400_000)
    pending_approve_ms: int = Field(default=5_000, ge=1, le=86_400_000)


class PseSettingsPatch(BaseModel):
    """Fields to change."""

    model_config = _Strict
    expiry_ms: int | None = Field(default=None, ge=1, le=86_400_000)
    pending_approve_ms: int | None = Field(default=None, ge=1, le=86_400_000)
