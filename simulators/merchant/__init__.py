"""Merchant-side receiver: records confirmation webhooks and checks their x_signature.

Partners run it to see exactly what their confirmation endpoint will get; tests point a
merchant's confirmation URL at it and tell it to fail through the shared /_sim/ faults.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi import FastAPI

from simulators.app import build_app
from simulators.control import SimContext
from simulators.merchant.routes import admin, router
from simulators.merchant.state import ReceiverState


def create_app(
    *,
    seed: int = 0,
    state_file: Path | None = None,
    callback_client: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The merchant receiver app."""

    def make_state(ctx: SimContext) -> ReceiverState:
        return ReceiverState(ctx.rng, clock)

    return build_app(
        name="merchant",
        title="Paylab merchant-side webhook receiver",
        description="A merchant's confirmation endpoint: records ePayco-style confirmation "
        "webhooks (form posts), verifies x_signature with the merchant's p_cust_id_cliente and "
        "p_key, answers 200 (or fails on demand through /_sim/faults).",
        routers=[router, admin],
        make_state=make_state,
        seed=seed,
        state_file=state_file,
        callback_client=callback_client,
    )
