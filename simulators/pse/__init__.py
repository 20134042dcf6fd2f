"""PSE simulator (ACH Colombia style bank transfers) with a simulated bank page."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi import FastAPI

from simulators.app import build_app
from simulators.control import SimContext
from simulators.pse.routes import admin, router
from simulators.pse.state import PseState


def create_app(
    *,
    seed: int = 0,
    state_file: Path | None = None,
    callback_client: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The PSE simulator app."""

    def make_state(ctx: SimContext) -> PseState:
        return PseState(ctx.rng, ctx.callbacks, clock)

    return build_app(
        name="pse",
        title="Paylab PSE simulator",
        description="PSE bank transfers: bank list, transactions, a simulated bank page, "
        "signed confirmations; magic bank codes; fault injection under /_sim/.",
        routers=[router, admin],
        make_state=make_state,
        seed=seed,
        state_file=state_file,
        callback_client=callback_client,
    )
