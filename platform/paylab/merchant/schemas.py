"""The merchant service's request and response bodies (ePayco's names where partners know them)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from paylab.core.isotime import IsoDate

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
# The events' limits (contracts/events/common.schema.json): a local part of at most 64
# characters, a domain of at most 190, so every event naming the address is valid.
Email = Annotated[
    str,
    Field(
        max_length=254, pattern=r"^[^@\s\x00-\x1f]{1,64}@[^@\s\x00-\x1f]{1,126}\.[A-Za-z]{2,63}$"
    ),
]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9]{7,15}$", examples=["+573001234567"])]
DocNumber = Annotated[
    str,
    Field(
        pattern=r"^[0-9A-Za-z]{5,15}(-[0-9])?$",
        description="Digits (letters only in a passport, PPN); a NIT may carry its DIAN check"
        " digit after a dash (900123456-8).",
        examples=["900123456-8"],
    ),
]
DocType = Literal["NIT", "CC", "CE", "PPN"]
# DIAN's weights for the NIT check digit, applied from the rightmost digit.
_NIT_WEIGHTS = (3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71)


def nit_check_digit(number: str) -> int:
    """The DIAN check digit (dígito de verificación) of a NIT's digits."""
    total = sum(int(d) * w for d, w in zip(reversed(number), _NIT_WEIGHTS, strict=False))
    rest = total % 11
    return rest if rest in (0, 1) else 11 - rest


def _check_doc(doc_type: str | None, doc_number: str | None) -> None:
    if doc_number is None:
        return
    digits, _, check = doc_number.partition("-")
    if doc_type in ("NIT", "CC") and not digits.isdigit():
        raise ValueError(f"a {doc_type} has digits only")
    if not check:
        return
    if doc_type != "NIT":
        raise ValueError("only a NIT carries a check digit")
    if int(check) != nit_check_digit(digits):
        raise ValueError(f"the NIT check digit should be {nit_check_digit(digits)}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MerchantCreate(_Strict):
    """The signup form: who the merchant is (and, optionally, its confirmation URL)."""

    name: Name
    email: Email
    phone: Phone
    doc_type: DocType
    doc_number: DocNumber
    confirmation_url: str | None = Field(default=None, max_length=2048)

    @field_validator("doc_number")
    @classmethod
    def _nit(cls, value: str, info: ValidationInfo) -> str:
        _check_doc(info.data.get("doc_type"), value)
        return value


class MerchantUpdate(_Strict):
    """Profile fields to change; omitted ones stay."""

    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    doc_type: DocType | None = None
    doc_number: DocNumber | None = None

    @field_validator("doc_number")
    @classmethod
    def _nit(cls, value: str | None, info: ValidationInfo) -> str | None:
        _check_doc(info.data.get("doc_type"), value)
        return value


class PayoutAccountIn(_Strict):
    """The bank account dispersions pay into."""

    bank_code: str = Field(pattern=r"^[0-9]{4}$", examples=["1007"], description="ACH bank code")
    account_type: Literal["savings", "checking"]
    account_number: str = Field(pattern=r"^[0-9]{6,20}$", examples=["00123456789"])
    holder_name: Name


class PayoutAccountOut(BaseModel):
    """The payout account, number masked."""

    bank_code: str
    account_type: Literal["savings", "checking"]
    account_number_masked: str = Field(examples=["*******6789"])
    holder_name: str
    updated_at: datetime


class WebhookSettingsIn(_Strict):
    """Where confirmations go when a payment gives no confirmation_url (null: nowhere)."""

    confirmation_url: str | None = Field(max_length=2048, examples=["https://shop.example/pay"])


class WebhookSettingsOut(BaseModel):
    confirmation_url: str | None


class SignatureKeys(BaseModel):
    """ePayco's pair for verifying x_signature: keep p_key secret."""

    p_cust_id_cliente: str = Field(examples=["500001"])
    p_key: str
    rotated_at: datetime | None


class Merchant(BaseModel):
    """A merchant's profile."""

    id: str
    status: Literal["registering", "active"]
    name: str
    email: str
    phone: str
    doc_type: DocType
    doc_number: str
    p_cust_id_cliente: str
    wallet_account_id: uuid.UUID | None
    confirmation_url: str | None
    payout_account: PayoutAccountOut | None
    created_at: datetime
    updated_at: datetime


class ApiCredentials(BaseModel):
    """The merchant's API key pair for POST /v1/auth/login; the private key is shown once."""

    public_key: str
    private_key: str


class Registered(BaseModel):
    """What signup returns, once: the merchant, its API keys and its signature pair."""

    merchant: Merchant
    credentials: ApiCredentials
    signature_keys: SignatureKeys


class WebhookDelivery(BaseModel):
    """One confirmation webhook and how its delivery went."""

    id: uuid.UUID
    event_id: str
    event_type: str
    payment_id: str
    ref_payco: str
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class WebhookDeliveryList(BaseModel):
    items: list[WebhookDelivery]


DispersionResultName = Literal[
    "paid",
    "already_paid",
    "below_minimum",
    "no_payout_account",
    "rejected",
    "in_transit",
    "retry",
    "in_progress",
]


class DispersionRun(_Strict):
    """Run the dispersion of one business day (what the 00:00 Bogota schedule does)."""

    business_date: IsoDate = Field(examples=["2026-12-04"])
    merchant_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=1000, description="Only these merchants (default: all)."
    )


class DispersionResult(BaseModel):
    """What the run did for one merchant (and day: a pending row of an earlier day resumes)."""

    merchant_id: str
    result: DispersionResultName
    dispersion_id: uuid.UUID | None
    business_date: date | None
    amount: str | None
    detail: str | None


class DispersionRunOut(BaseModel):
    business_date: date
    counts: dict[str, int]
    results: list[DispersionResult]


class DispersionOut(BaseModel):
    """One merchant's payout for one business day."""

    id: uuid.UUID
    merchant_id: str
    business_date: date
    status: Literal["pending", "paid", "rejected"]
    attempt: int
    amount: str
    currency: str
    bank_account_masked: str
    wallet_payout_id: uuid.UUID | None
    wallet_return_id: uuid.UUID | None
    bank_payout_id: str | None
    bank_status: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None


class DispersionList(BaseModel):
    items: list[DispersionOut]
