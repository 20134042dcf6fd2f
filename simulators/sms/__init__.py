"""SMS provider simulator: send, delivery receipts as signed callbacks, message log."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi import FastAPI

from simulators.app import build_app
from simulators.control import SimContext
from simulators.sms.routes import admin, router
from simulators.sms.state import SmsState


def create_app(
    *,
    seed: int = 0,
    state_file: Path | None = None,
    callback_client: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The SMS simulator app."""

    def make_state(ctx: SimContext) -> SmsState:
        return SmsState(ctx.rng, ctx.callbacks, clock)

    return build_app(
        name="sms",
        title="Paylab SMS provider simulator",
        description="Sends SMS to E.164 numbers (Colombian mobiles +57 3xx), posts signed "
        "delivery receipts, keeps a queryable log; fault injection under /_sim/.",
        routers=[router, admin],
        make_state=make_state,
        seed=seed,
        state_file=state_file,
        callback_client=callback_client,
    )
