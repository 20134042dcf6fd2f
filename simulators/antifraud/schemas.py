"""Antifraud simulator request and response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from paylab.core.money import MONEY_PATTERN, Money

_Strict = ConfigDict(extra="forbid", strict=True)
ListKind = Literal["email", "document", "bin", "ip"]
Decision = Literal["approve", "review", "reject"]


class EvaluationIn(BaseModel):
    """A payment attempt to score."""

    model_config = _Strict
    amount: Money
    currency: Literal["COP", "USD"] = "COP"
    reference: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}$")
    doc_type: Literal["CC", "CE", "NIT", "TI", "PP"] | None = None
    doc_number: str | None = Field(default=None, pattern=r"^[0-9A-Za-z]{4,20}$")
    card_number: str | None = Field(default=None, pattern=r"^[0-9]{13,19}$")
    card_bin: str | None = Field(default=None, pattern=r"^[0-9]{6,8}$")
    ip: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F:.]{2,45}$", description="IPv4 or IPv6 address"
    )


class Reason(BaseModel):
    """A rule that fired."""

    code: str
    detail: str
    points: int


class EvaluationOut(BaseModel):
    """Score 0-100, the decision and why."""

    id: str
    score: int = Field(ge=0, le=100)
    decision: Decision
    reasons: list[Reason]
    reference: str | None


class Points(BaseModel):
    """Points each kind of rule adds."""

    model_config = _Strict
    blocklist: int = Field(default=100, ge=0, le=100)
    amount_review: int = Field(default=40, ge=0, le=100)
    amount_reject: int = Field(default=70, ge=0, le=100)
    velocity: int = Field(default=40, ge=0, le=100)


class Rules(BaseModel):
    """Thresholds and velocity limits; PUT replaces them all (omitted fields get defaults)."""

    model_config = _Strict
    review_score: int = Field(default=40, ge=1, le=100)
    reject_score: int = Field(default=70, ge=1, le=100)
    amount_review: str = Field(default="5000000.00", pattern=MONEY_PATTERN)
    amount_reject: str = Field(default="20000000.00", pattern=MONEY_PATTERN)
    velocity_window_s: int = Field(default=600, ge=1, le=86_400)
    max_per_card: int = Field(default=5, ge=1, le=10_000)
    max_per_email: int = Field(default=10, ge=1, le=10_000)
    max_per_ip: int = Field(default=20, ge=1, le=10_000)
    points: Points = Field(default_factory=lambda: Points())


class VelocityLeaseIn(BaseModel):
    """Velocity limits a holder needs for a while (a test run's), renewed before `ttl_s` ends."""

    model_config = _Strict
    max_per_card: int = Field(ge=1, le=10_000)
    max_per_email: int = Field(ge=1, le=10_000)
    max_per_ip: int = Field(ge=1, le=10_000)
    ttl_s: int = Field(ge=1, le=3600, description="seconds until the lease lapses unless renewed")


class VelocityLease(VelocityLeaseIn):
    """An active lease."""

    holder: str
    expires_in_s: float


class Lists(BaseModel):
    """Block lists."""

    email: list[str]
    document: list[str]
    bin: list[str]
    ip: list[str]


class ListEntryIn(BaseModel):
    """A value to block."""

    model_config = _Strict
    value: str = Field(min_length=1, max_length=254, pattern=r"^[^\s/]+$")
