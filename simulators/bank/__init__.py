"""Bank / card acquirer simulator: tokens, authorize, capture, void, refund, payouts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi import FastAPI

from simulators.app import build_app
from simulators.bank.fastpath import authorization_handler
from simulators.bank.routes import admin, router
from simulators.bank.state import BankState
from simulators.control import SimContext
from simulators.middleware import FastHandler


def create_app(
    *,
    seed: int = 0,
    state_file: Path | None = None,
    callback_client: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The bank simulator app."""

    def make_state(ctx: SimContext) -> BankState:
        return BankState(ctx.rng, clock)

    def fast_routes(ctx: SimContext) -> dict[tuple[str, str], FastHandler]:
        state = ctx.state
        assert isinstance(state, BankState)
        return {("POST", "/v1/authorizations"): authorization_handler(state)}

    return build_app(
        name="bank",
        title="Paylab bank / card acquirer simulator",
        description="Card tokenization, authorization, capture, void, refund and payouts, "
        "with ePayco's test cards and fault injection under /_sim/.",
        routers=[router, admin],
        make_state=make_state,
        seed=seed,
        state_file=state_file,
        callback_client=callback_client,
        fast_routes=fast_routes,
    )
