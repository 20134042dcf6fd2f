"""Request and response bodies of the payment API (public and internal)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from paylab.core.money import Money
from paylab.payment.domain import MAX_AMOUNT

_Strict = ConfigDict(extra="forbid")
Currency = Literal["COP", "USD"]
DocType = Literal["CC", "CE", "NIT", "TI", "PP"]
StrictInt = Annotated[int, Field(strict=True)]
Url = Annotated[AnyHttpUrl, Field(description="http(s) URL")]
# Free text goes to Postgres, which cannot store NUL; no other control character belongs in it.
LINE = r"[^\x00-\x1f]"


def luhn_ok(number: str) -> bool:
    """True when a string of digits passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class Customer(BaseModel):
    """The payer."""

    model_config = _Strict
    email: str = Field(pattern=r"^[^@\s\x00-\x1f]{1,64}@[^@\s\x00-\x1f]{1,190}$", max_length=254)
    name: str = Field(min_length=1, max_length=100, pattern=f"^{LINE}+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{7,15}$")
    doc_type: DocType | None = None
    doc_number: str | None = Field(default=None, pattern=r"^[0-9A-Za-z]{4,20}$")


class CardIn(BaseModel):
    """Raw card data: tokenized at the bank at once, never stored."""

    model_config = _Strict
    number: str = Field(pattern=r"^[0-9]{13,19}$", examples=["4575623182290326"])
    exp_month: StrictInt = Field(ge=1, le=12)
    exp_year: StrictInt = Field(ge=2000, le=2100)
    cvc: str = Field(pattern=r"^[0-9]{3,4}$")

    @field_validator("number")
    @classmethod
    def _luhn(cls, value: str) -> str:
        if not luhn_ok(value):
            raise ValueError("fails the Luhn check")
        return value

    @model_validator(mode="after")
    def _cvc_and_expiry(self) -> CardIn:
        amex = self.number.startswith(("34", "37"))
        if len(self.cvc) != (4 if amex else 3):
            raise ValueError(f"cvc must have {4 if amex else 3} digits for this card")
        today = datetime.now(UTC).date()
        if (self.exp_year, self.exp_month) < (today.year, today.month):
            raise ValueError("the card has expired (exp_month/exp_year)")
        return self


class PseIn(BaseModel):
    """PSE transfer details."""

    model_config = _Strict
    bank_code: str = Field(pattern=r"^[0-9]{4}$", examples=["1007"])
    person_type: Literal["natural", "juridica"]
    doc_type: DocType
    doc_number: str = Field(pattern=r"^[0-9A-Za-z]{4,20}$")


class WalletIn(BaseModel):
    """Pay from a Paylab wallet."""

    model_config = _Strict
    account_id: str = Field(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="The payer's wallet account id (UUID)",
    )


class PaymentIn(BaseModel):
    """`POST /v1/payments` (ARCHITECTURE §7)."""

    model_config = _Strict
    amount: Money
    currency: Currency = "COP"
    method: Literal["card", "pse", "wallet"]
    reference: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    description: str = Field(default="", max_length=200, pattern=f"^{LINE}*$")
    customer: Customer
    card: CardIn | None = None
    pse: PseIn | None = None
    wallet: WalletIn | None = None
    confirmation_url: Url | None = None
    return_url: Url | None = None

    @model_validator(mode="after")
    def _method_details(self) -> PaymentIn:
        given = {m for m in ("card", "pse", "wallet") if getattr(self, m) is not None}
        if given != {self.method}:
            raise ValueError(f"method {self.method!r} needs exactly the {self.method!r} object")
        if Decimal(self.amount) > MAX_AMOUNT[self.currency]:
            raise ValueError(f"amount must not exceed {MAX_AMOUNT[self.currency]} {self.currency}")
        if self.method == "pse" and self.currency != "COP":
            raise ValueError("PSE payments are in COP")
        return self


class NextAction(BaseModel):
    """Where to send the payer (PSE: their bank); none while antifraud's review is pending."""

    redirect_url: str


class PaymentCreatedOut(BaseModel):
    """The answer to `POST /v1/payments`."""

    id: str
    ref_payco: str
    status: str
    cod_respuesta: int
    next_action: NextAction | None


class CardOut(BaseModel):
    brand: str | None
    last4: str | None


class PseOut(BaseModel):
    bank_code: str | None
    transaction_id: str | None
    redirect_url: str | None


class WalletOut(BaseModel):
    account_id: str | None


class PaymentOut(BaseModel):
    """A payment as the merchant sees it."""

    id: str
    ref_payco: str
    merchant_id: str
    reference: str
    description: str
    method: str
    amount: str = Field(examples=["30000.00"])
    refunded_amount: str = Field(
        examples=["0.00"], description="What refunds gave back; the amount once `reversed`."
    )
    currency: str
    status: str
    cod_respuesta: int
    reason: str | None
    antifraud_decision: str | None
    card: CardOut | None
    pse: PseOut | None
    wallet: WalletOut | None
    next_action: NextAction | None
    version: int
    created_at: datetime
    updated_at: datetime


class RefundIn(BaseModel):
    """A refund of `amount` (needs an Idempotency-Key), or of all that is left without one."""

    model_config = _Strict
    amount: Money | None = None


class PaymentList(BaseModel):
    """Payments with one reference."""

    items: list[PaymentOut]


class ProcessIn(BaseModel):
    model_config = _Strict
    attempt: StrictInt = Field(default=1, ge=1, le=1000)


class ProcessOut(BaseModel):
    outcome: Literal["approved", "rejected", "failed", "abandoned", "pending"]
    reason: str | None = None


class ReversedCharge(BaseModel):
    authorization_id: str
    action: Literal["voided", "refunded"]
    amount: str = Field(description="What the bank gave back, a decimal string")


class ReversalOut(BaseModel):
    """What ReverseCharge found at the bank and gave back."""

    outcome: Literal["charge_reversed", "nothing_charged"]
    reversed: list[ReversedCharge]


class AwaitConfirmationIn(BaseModel):
    model_config = _Strict
    task_token: str = Field(min_length=1, max_length=8192)
    sent_at_ms: int | None = Field(
        default=None,
        ge=0,
        le=10**14,
        description="When the SAGA step's Lambda sent this, in Unix milliseconds",
    )


class OutcomeIn(BaseModel):
    model_config = _Strict
    status: Literal["approved", "rejected", "failed", "abandoned"]
    reason: str | None = Field(default=None, max_length=500)


class Empty(BaseModel):
    pass


class CallbackAck(BaseModel):
    received: bool


class ReviewIn(BaseModel):
    """An operator's decision on a payment antifraud held for review."""

    model_config = _Strict
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, min_length=1, max_length=500, pattern=f"^{LINE}+$")


class ReviewOut(BaseModel):
    """A reviewed (or reviewable) payment: its state and the decision, once there is one."""

    id: str
    ref_payco: str
    status: str
    cod_respuesta: int
    review_decision: Literal["approve", "reject"] | None
    review_reason: str | None
    reason: str | None = Field(description="Why it ended, once it did (e.g. review-timeout)")


class AwaitReviewIn(BaseModel):
    model_config = _Strict
    task_token: str = Field(min_length=1, max_length=8192)
    sent_at_ms: int | None = Field(
        default=None,
        ge=0,
        le=10**14,
        description="When the SAGA step's Lambda sent this, in Unix milliseconds",
    )
