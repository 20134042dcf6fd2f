"""Bank simulator request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from paylab.core.money import Money
from simulators.bank.cards import Behaviour

Currency = Literal["COP", "USD"]
_Strict = ConfigDict(extra="forbid", strict=True)


class CardIn(BaseModel):
    """Raw card data."""

    model_config = _Strict
    number: str = Field(pattern=r"^[0-9]{13,19}$", examples=["4575623182290326"])
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    cvc: str = Field(pattern=r"^[0-9]{3,4}$")
    holder_name: str | None = Field(default=None, max_length=100)


class TokenOut(BaseModel):
    """A card token: use it instead of the card in authorizations."""

    token: str
    brand: str
    last4: str
    bin: str
    exp_month: int
    exp_year: int


class AuthorizationIn(BaseModel):
    """Authorize an amount on a card (raw or tokenized)."""

    model_config = _Strict
    amount: Money
    currency: Currency = "COP"
    reference: str = Field(min_length=1, max_length=64)
    card: CardIn | None = None
    token: str | None = Field(default=None, pattern=r"^tok_[0-9a-f]{12}$")
    capture: bool = Field(default=False, description="Capture at once (sale)")
    installments: int = Field(default=1, ge=1, le=36)
    description: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _one_card(self) -> AuthorizationIn:
        if (self.card is None) == (self.token is None):
            raise ValueError("give exactly one of card or token")
        return self


class CardSummary(BaseModel):
    """What the acquirer tells about the card."""

    brand: str
    last4: str
    bin: str


AuthStatus = Literal[
    "approved",
    "rejected",
    "failed",
    "pending",
    "captured",
    "voided",
    "partially_refunded",
    "refunded",
]


class AuthorizationOut(BaseModel):
    """An authorization and what happened to it since."""

    id: str
    status: AuthStatus
    response_code: str
    message: str
    authorization_code: str | None
    amount: str
    currency: Currency
    captured_amount: str
    refunded_amount: str
    reference: str
    installments: int
    card: CardSummary
    created_at: float


class AuthorizationList(BaseModel):
    """The authorizations made for one merchant reference, oldest first."""

    authorizations: list[AuthorizationOut]


class CaptureIn(BaseModel):
    """Capture all (default) or part of an approved authorization."""

    model_config = _Strict
    amount: Money | None = None


class RefundIn(BaseModel):
    """Refund all that is left (default) or part of a captured authorization."""

    model_config = _Strict
    amount: Money | None = None
    reason: str | None = Field(default=None, max_length=200)


class RefundOut(BaseModel):
    """A refund."""

    id: str
    authorization_id: str
    amount: str
    currency: Currency
    status: Literal["succeeded"]
    authorization_status: AuthStatus


class PayoutIn(BaseModel):
    """Pay money out to a bank account (merchant dispersions)."""

    model_config = _Strict
    amount: Money
    currency: Currency = "COP"
    reference: str = Field(min_length=1, max_length=64)
    bank_code: str = Field(pattern=r"^[0-9]{4}$")
    account_type: Literal["savings", "checking"]
    account_number: str = Field(pattern=r"^[0-9]{6,20}$")
    holder_name: str = Field(min_length=1, max_length=100)
    holder_doc_type: Literal["CC", "CE", "NIT", "PP", "TI"]
    holder_doc_number: str = Field(pattern=r"^[0-9A-Za-z]{4,20}$")


class PayoutOut(BaseModel):
    """A payout and its outcome."""

    id: str
    status: Literal["paid", "rejected", "pending"]
    failure_reason: str | None
    amount: str
    currency: Currency
    reference: str
    bank_code: str
    account_last4: str
    created_at: float


class CardAccountOut(BaseModel):
    """The simulated account behind a card."""

    number: str
    behaviour: Behaviour
    balance_cop: str
    balance_usd: str
    limit_cop: str
    limit_usd: str


class CardAccountPatch(BaseModel):
    """Change a card's balances, limits or behaviour."""

    model_config = _Strict
    behaviour: Behaviour | None = None
    balance_cop: str | None = Field(default=None, pattern=r"^[0-9]{1,15}(\.[0-9]{1,2})?$")
    balance_usd: str | None = Field(default=None, pattern=r"^[0-9]{1,15}(\.[0-9]{1,2})?$")
    limit_cop: str | None = Field(default=None, pattern=r"^[0-9]{1,15}(\.[0-9]{1,2})?$")
    limit_usd: str | None = Field(default=None, pattern=r"^[0-9]{1,15}(\.[0-9]{1,2})?$")


class BankSettings(BaseModel):
    """Bank simulator settings."""

    pending_resolve_ms: int = Field(default=5_000, ge=0, le=86_400_000)


class BankSettingsPatch(BaseModel):
    """Fields to change."""

    model_config = _Strict
    pending_resolve_ms: int | None = Field(default=None, ge=0, le=86_400_000)
