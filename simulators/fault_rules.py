"""Fault rules as clients post them: what to match, which effect, and when it applies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JsonScalar = str | int | bool | None

_Strict = ConfigDict(extra="forbid", strict=True)


class Match(BaseModel):
    """Which calls a rule applies to; every given field must match."""

    model_config = _Strict
    method: str | None = Field(
        default=None, pattern=r"^[A-Za-z]{3,7}$", description="HTTP method, e.g. POST"
    )
    path: str | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="Path glob: `*` matches inside one segment, `**` across segments. "
        "For callback rules, the path of the callback URL.",
        examples=["/v1/authorizations", "/v1/authorizations/*/capture"],
    )
    body: dict[Annotated[str, Field(min_length=1, max_length=200)], JsonScalar] | None = Field(
        default=None,
        max_length=20,
        description="Dotted body fields and the value they must have; strings may use `*`, "
        'e.g. {"card.number": "4151*"}.',
    )


class LatencyEffect(BaseModel):
    """Answer normally after a delay of `ms` plus up to `jitter_ms`."""

    model_config = _Strict
    type: Literal["latency"]
    ms: int = Field(ge=0, le=120_000)
    jitter_ms: int = Field(default=0, ge=0, le=120_000)


class ErrorEffect(BaseModel):
    """Answer with this HTTP status and body instead of calling the simulator."""

    model_config = _Strict
    type: Literal["error"]
    status: int = Field(ge=400, le=599)
    body: dict[str, Any] | None = Field(
        default=None, description="JSON body; a problem document when omitted"
    )


class TimeoutEffect(BaseModel):
    """Hold the request until the client gives up (or `hold_ms`, then 504)."""

    model_config = _Strict
    type: Literal["timeout"]
    hold_ms: int = Field(default=60_000, ge=1, le=600_000)


class ResetEffect(BaseModel):
    """Reset the TCP connection without answering."""

    model_config = _Strict
    type: Literal["reset"]


class MalformedEffect(BaseModel):
    """Answer the real status with a truncated, unparsable body."""

    model_config = _Strict
    type: Literal["malformed"]


class DuplicateEffect(BaseModel):
    """Callback: deliver it `copies` extra times (same event id)."""

    model_config = _Strict
    type: Literal["duplicate"]
    copies: int = Field(default=1, ge=1, le=10)


class DelayEffect(BaseModel):
    """Callback: deliver it after `ms` plus up to `jitter_ms`."""

    model_config = _Strict
    type: Literal["delay"]
    ms: int = Field(ge=0, le=600_000)
    jitter_ms: int = Field(default=0, ge=0, le=600_000)


class ReorderEffect(BaseModel):
    """Callback: hold it until the next callback has gone out (at most `hold_ms`)."""

    model_config = _Strict
    type: Literal["reorder"]
    hold_ms: int = Field(default=5_000, ge=1, le=600_000)


class DropEffect(BaseModel):
    """Callback: never send it."""

    model_config = _Strict
    type: Literal["drop"]


class BadSignatureEffect(BaseModel):
    """Callback: send it with a signature that does not verify."""

    model_config = _Strict
    type: Literal["bad_signature"]


RequestEffect = LatencyEffect | ErrorEffect | TimeoutEffect | ResetEffect | MalformedEffect
CallbackEffect = DuplicateEffect | DelayEffect | ReorderEffect | DropEffect | BadSignatureEffect
Effect = Annotated[RequestEffect | CallbackEffect, Field(discriminator="type")]
CALLBACK_EFFECTS = frozenset({"duplicate", "delay", "reorder", "drop", "bad_signature"})


class When(BaseModel):
    """When a matching call is faulted; all given conditions combine."""

    model_config = _Strict
    probability: float = Field(default=1.0, ge=0.0, le=1.0, description="Chance per eligible call")
    after: int = Field(default=0, ge=0, le=1_000_000, description="Skip the first N matching calls")
    next: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Fault at most N calls, then expire"
    )


class FaultRuleIn(BaseModel):
    """A fault rule as a client posts it."""

    model_config = _Strict
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str | None = Field(default=None, max_length=500)
    match: Match = Field(default_factory=lambda: Match())
    effect: Effect
    when: When = Field(default_factory=lambda: When())


class FaultRule(FaultRuleIn):
    """A fault rule as the simulator holds it, with its counters."""

    id: str
    target: Literal["request", "callback"]
    matched: int = 0
    applied: int = 0
    active: bool = True
