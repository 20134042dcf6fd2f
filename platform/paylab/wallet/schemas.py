"""The wallet's API models: money as decimal strings, unknown fields refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from paylab.core.isotime import IsoDatetime
from paylab.core.money import Money
from paylab.wallet.ledger import Bucket, Currency, Method, PostingKind

Text = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]
OperationId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
]
SignedMoney = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", examples=["-30000.00"])]
Amount = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]{2}$", examples=["30000.00"])]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WalletCreate(Request):
    """A new payer wallet for one of the merchant's customers."""

    currency: Currency = Currency.COP
    reference: Text | None = Field(default=None, description="The merchant's customer reference.")


class TopupCreate(Request):
    amount: Money
    currency: Currency


class MerchantAccountCreate(Request):
    merchant_id: Text
    currency: Currency = Currency.COP


class HoldCreate(Request):
    """ReserveFunds: hold a payment's amount (ARCHITECTURE §4)."""

    operation_id: OperationId
    payment_id: Text
    merchant_id: Text
    method: Method
    amount: Money
    currency: Currency
    payer_account_id: UUID | None = None

    @model_validator(mode="after")
    def _payer_iff_wallet(self) -> HoldCreate:
        if self.method is Method.WALLET and self.payer_account_id is None:
            raise ValueError("payer_account_id is required when method is 'wallet'")
        if self.method is not Method.WALLET and self.payer_account_id is not None:
            raise ValueError("payer_account_id is only allowed when method is 'wallet'")
        return self


class HoldCapture(Request):
    operation_id: OperationId


class HoldRelease(Request):
    operation_id: OperationId
    reason: Text


class PayoutCreate(Request):
    """Debit a merchant's available balance for a dispersion to its bank account."""

    operation_id: OperationId
    merchant_id: Text
    amount: Money
    currency: Currency


class PayoutReturn(Request):
    """The bank refused a payout: give its amount back to the merchant (once per payout)."""

    reason: Text


class RefundCreate(Request):
    """Reserve a refund of a captured payment: the merchant's part leaves its available balance."""

    operation_id: OperationId
    payment_id: Text
    merchant_id: Text
    amount: Money


class RefundComplete(Request):
    operation_id: OperationId
    reference: Text | None = Field(
        default=None, description="The processor's refund id (e.g. the bank's), if any."
    )


class RefundCancel(Request):
    operation_id: OperationId
    reason: Text
    if_not_attempted_since: IsoDatetime | None = Field(
        default=None,
        description="Cancel only if no reserve call found the refund since then (409 "
        "`refund-in-flight` otherwise): reconciliation never undoes a live attempt.",
    )


class WalletBalance(BaseModel):
    id: UUID
    kind: Literal["payer", "merchant"]
    available: Amount
    held: Amount
    pending: Amount
    currency: Currency


class Wallet(WalletBalance):
    merchant_id: str
    reference: str | None
    created_at: datetime


class MerchantBalance(BaseModel):
    available: Amount
    pending: Amount
    currency: Currency


class MerchantAccount(BaseModel):
    id: UUID
    merchant_id: str
    currency: Currency
    available: Amount
    pending: Amount
    created_at: datetime


class StatementEntry(BaseModel):
    entry_id: int
    posting_id: UUID
    kind: PostingKind
    bucket: Bucket
    amount: SignedMoney
    balance_after: SignedMoney
    currency: Currency
    payment_id: str | None
    created_at: datetime


class Statement(BaseModel):
    account_id: UUID
    items: list[StatementEntry]
    next_cursor: str | None = Field(description="Pass as `cursor` to get older entries.")


class Topup(BaseModel):
    id: UUID
    account_id: UUID
    amount: Amount
    currency: Currency
    available: Amount
    held: Amount


class Hold(BaseModel):
    id: UUID
    payment_id: str
    merchant_id: str
    method: Method
    amount: Amount
    fee: Amount
    net_amount: Amount
    currency: Currency
    payer_account_id: UUID | None
    merchant_account_id: UUID
    status: Literal["held", "captured", "released"]
    release_reason: str | None
    created_at: datetime
    resolved_at: datetime | None


class PaymentHoldRelease(BaseModel):
    """ReleaseFunds by payment id: the hold released, or none (and none may be made later)."""

    payment_id: str
    outcome: Literal["released", "nothing-held"]
    hold: Hold | None


RefundStatus = Literal["reserved", "refunded", "cancelled"]


class Refund(BaseModel):
    id: UUID
    operation_id: str
    payment_id: str
    hold_id: UUID
    merchant_id: str
    method: Method
    amount: Amount
    fee_returned: Amount
    merchant_part: Amount = Field(description="What the merchant's available balance gives back.")
    currency: Currency
    merchant_account_id: UUID
    target_account_id: UUID = Field(description="The payer's wallet or the clearing account.")
    status: RefundStatus
    reference: str | None
    cancel_reason: str | None
    created_at: datetime
    resolved_at: datetime | None
    attempted_at: datetime = Field(description="The last reserve call for it.")


class RefundList(BaseModel):
    refunds: list[Refund]


class Payout(BaseModel):
    id: UUID
    merchant_id: str
    merchant_account_id: UUID
    amount: Amount
    currency: Currency
    available: Amount


class LedgerCheck(BaseModel):
    entries_sum_zero: bool
    balances_match_entries: bool
    holds_match_balances: bool
    open_holds: int
    open_refunds: int
