"""The `/_sim/` control API, identical on every simulator: faults, seed, reset, journal, config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from paylab.core.problems import Problem, problem_schema
from simulators.api_keys import ApiKeys
from simulators.callbacks import CallbackSender
from simulators.faults import FaultEngine, FaultRule, FaultRuleIn
from simulators.journal import Journal, JournalEntryOut, JournalQuery, render
from simulators.seeding import SeededRandom


class SimState(Protocol):
    """A simulator's own fake state."""

    def reset(self) -> None:
        """Back to the state at start-up."""

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state for the state file."""

    def restore(self, data: dict[str, Any]) -> None:
        """Load a snapshot."""


@dataclass
class SimContext:
    """Everything one simulator instance owns."""

    name: str
    rng: SeededRandom
    faults: FaultEngine
    journal: Journal
    callbacks: CallbackSender
    state: SimState
    # Configuration like the callback secret: `reset` keeps it (see simulators/api_keys.py).
    api_keys: ApiKeys = field(default_factory=ApiKeys)

    async def reset(self) -> None:
        """Forget faults, journal, state and queued callbacks; restart the RNG from the seed."""
        await self.callbacks.cancel_all()
        self.faults.clear()
        self.journal.clear()
        self.rng.reseed()
        self.state.reset()


def sim_context(request: Request) -> SimContext:
    """The simulator the request reached."""
    ctx: SimContext = request.app.state.sim
    return ctx


class Health(BaseModel):
    """Liveness."""

    status: str
    name: str


class FaultList(BaseModel):
    """Every fault rule, oldest first."""

    faults: list[FaultRule]


class Removed(BaseModel):
    """How many rules were removed."""

    removed: int


class SeedIn(BaseModel):
    """A new seed."""

    model_config = ConfigDict(extra="forbid", strict=True)
    seed: int = Field(ge=0, le=2**63 - 1)


class SeedOut(BaseModel):
    """The seed in force."""

    seed: int


class ResetOut(BaseModel):
    """What reset left behind."""

    status: str
    seed: int


class JournalOut(BaseModel):
    """Journal entries plus the buffer's size."""

    entries: list[JournalEntryOut]
    size: int
    capacity: int
    last_seq: int


class ConfigOut(BaseModel):
    """Settings shared by every simulator."""

    name: str
    callback_secret: str
    callback_max_attempts: int
    callback_backoff_ms: int
    callback_timeout_ms: int
    journal_capacity: int


class ConfigPatch(BaseModel):
    """Fields to change; omitted ones stay."""

    model_config = ConfigDict(extra="forbid", strict=True)
    callback_secret: str | None = Field(default=None, min_length=8, max_length=200)
    callback_max_attempts: int | None = Field(default=None, ge=1, le=10)
    callback_backoff_ms: int | None = Field(default=None, ge=0, le=60_000)
    callback_timeout_ms: int | None = Field(default=None, ge=100, le=60_000)
    journal_capacity: int | None = Field(default=None, ge=10, le=1_000_000)


class DrainOut(BaseModel):
    """Whether every queued callback went out."""

    drained: bool
    pending: int


PROBLEM = {"content": {"application/problem+json": {"schema": problem_schema()}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed request", **PROBLEM},
    404: {"description": "Not found", **PROBLEM},
    409: {"description": "Conflict", **PROBLEM},
    415: {"description": "Unsupported media type", **PROBLEM},
    422: {"description": "Invalid fields", **PROBLEM},
}

router = APIRouter(prefix="/_sim", tags=["control"], responses={400: ERRORS[400], 422: ERRORS[422]})


def _ctx(request: Request) -> SimContext:
    return sim_context(request)


@router.get("/health", response_model=Health)
async def health(request: Request) -> Health:
    """Cheap liveness check."""
    return Health(status="ok", name=_ctx(request).name)


@router.get("/faults", response_model=FaultList)
async def list_faults(request: Request) -> FaultList:
    """Every fault rule with its counters."""
    return FaultList(faults=_ctx(request).faults.rules())


@router.post("/faults", status_code=201, response_model=FaultRule, responses={409: ERRORS[409]})
async def add_fault(rule: FaultRuleIn, request: Request) -> FaultRule:
    """Add a fault rule; it applies from the next call on."""
    try:
        return _ctx(request).faults.add(rule)
    except KeyError:
        raise Problem(409, "duplicate-fault", f"A fault rule with id {rule.id!r} exists.") from None


@router.delete("/faults", response_model=Removed)
async def clear_faults(request: Request) -> Removed:
    """Remove every fault rule."""
    faults = _ctx(request).faults
    n = len(faults.rules())
    faults.clear()
    return Removed(removed=n)


@router.get("/faults/{rule_id}", response_model=FaultRule, responses={404: ERRORS[404]})
async def get_fault(rule_id: str, request: Request) -> FaultRule:
    """One fault rule."""
    rule = _ctx(request).faults.get(rule_id)
    if rule is None:
        raise Problem(404, "unknown-fault", f"No fault rule {rule_id!r}.")
    return rule


@router.delete("/faults/{rule_id}", status_code=204, responses={404: ERRORS[404]})
async def delete_fault(rule_id: str, request: Request) -> Response:
    """Remove one fault rule."""
    if not _ctx(request).faults.remove(rule_id):
        raise Problem(404, "unknown-fault", f"No fault rule {rule_id!r}.")
    return Response(status_code=204)


@router.post("/reset", response_model=ResetOut)
async def reset(request: Request) -> ResetOut:
    """Back to start-up state: no faults, empty journal, default data, RNG at the seed."""
    ctx = _ctx(request)
    await ctx.reset()
    return ResetOut(status="reset", seed=ctx.rng.seed)


@router.get("/seed", response_model=SeedOut)
async def get_seed(request: Request) -> SeedOut:
    """The seed in force."""
    return SeedOut(seed=_ctx(request).rng.seed)


@router.post("/seed", response_model=SeedOut)
async def set_seed(body: SeedIn, request: Request) -> SeedOut:
    """Restart every random stream from this seed and re-arm fault counters."""
    ctx = _ctx(request)
    ctx.rng.reseed(body.seed)
    ctx.faults.reset_counters()
    return SeedOut(seed=body.seed)


@router.get("/journal", response_model=JournalOut)
async def journal(query: Annotated[JournalQuery, Query()], request: Request) -> JournalOut:
    """Requests, responses and callbacks, newest first by default; filterable."""
    j = _ctx(request).journal
    entries = await j.wait_select(query)
    stats = j.stats()
    return JournalOut(entries=[render(e) for e in entries], **stats)


@router.delete("/journal", status_code=204)
async def clear_journal(request: Request) -> Response:
    """Forget every journal entry."""
    _ctx(request).journal.clear()
    return Response(status_code=204)


def _config(ctx: SimContext) -> ConfigOut:
    cfg = ctx.callbacks.config
    return ConfigOut(
        name=ctx.name,
        callback_secret=cfg.secret,
        callback_max_attempts=cfg.max_attempts,
        callback_backoff_ms=cfg.backoff_ms,
        callback_timeout_ms=cfg.timeout_ms,
        journal_capacity=ctx.journal.capacity,
    )


@router.get("/config", response_model=ConfigOut)
async def get_config(request: Request) -> ConfigOut:
    """Callback signing secret and delivery settings, journal capacity."""
    return _config(_ctx(request))


@router.patch("/config", response_model=ConfigOut)
async def patch_config(body: ConfigPatch, request: Request) -> ConfigOut:
    """Change shared settings, e.g. the callback secret."""
    ctx = _ctx(request)
    cfg = ctx.callbacks.config
    if body.callback_secret is not None:
        cfg.secret = body.callback_secret
    if body.callback_max_attempts is not None:
        cfg.max_attempts = body.callback_max_attempts
    if body.callback_backoff_ms is not None:
        cfg.backoff_ms = body.callback_backoff_ms
    if body.callback_timeout_ms is not None:
        cfg.timeout_ms = body.callback_timeout_ms
    if body.journal_capacity is not None:
        ctx.journal.resize(body.journal_capacity)
    return _config(ctx)


@router.post("/callbacks/drain", response_model=DrainOut)
async def drain_callbacks(
    request: Request, timeout_ms: Annotated[int, Query(ge=0, le=30_000)] = 5_000
) -> DrainOut:
    """Wait until every queued callback has been delivered (or the timeout)."""
    cb = _ctx(request).callbacks
    drained = await cb.drain(timeout_ms / 1000)
    return DrainOut(drained=drained, pending=cb.pending)
