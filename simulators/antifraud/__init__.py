"""Antifraud simulator: score, decision and reasons; rules and block lists editable."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi import FastAPI

from simulators.antifraud.routes import router
from simulators.antifraud.state import AntifraudState
from simulators.app import build_app
from simulators.control import SimContext


def create_app(
    *,
    seed: int = 0,
    state_file: Path | None = None,
    callback_client: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The antifraud simulator app."""

    def make_state(ctx: SimContext) -> AntifraudState:
        return AntifraudState(ctx.rng, clock)

    return build_app(
        name="antifraud",
        title="Paylab antifraud simulator",
        description="Scores payment attempts 0-100 from block lists, amount thresholds and "
        "velocity; rules and lists editable; fault injection under /_sim/.",
        routers=[router],
        make_state=make_state,
        seed=seed,
        state_file=state_file,
        callback_client=callback_client,
    )
