"""Bank / card acquirer simulator: tokens, authorize, capture, void, refund, payouts."""

from __future__ import annotations

from simulators.app import SimulatorSpec
from simulators.bank.fastpath import authorization_handler
from simulators.bank.routes import admin, router
from simulators.bank.state import BankState
from simulators.control import SimContext
from simulators.middleware import FastHandler


def fast_routes(ctx: SimContext) -> dict[tuple[str, str], FastHandler]:
    """The hot path: authorizations answered without FastAPI's per-request machinery."""
    state = ctx.state
    assert isinstance(state, BankState)
    return {("POST", "/v1/authorizations"): authorization_handler(state)}


SPEC = SimulatorSpec(
    "bank", [router, admin], lambda ctx, clock: BankState(ctx.rng, clock), fast_routes
)
create_app = SPEC.create_app
