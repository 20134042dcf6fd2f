"""The merchant service: `uvicorn --factory paylab.merchant.app:create --port 8004`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from paylab.core.app import create_app
from paylab.core.lazy import Lazy
from paylab.core.pg_listen import listener_factory
from paylab.merchant import jobs
from paylab.merchant.delivery import Deliverer
from paylab.merchant.delivery_loop import DeliveryLoop
from paylab.merchant.dispersion_routes import router as dispersion_router
from paylab.merchant.routes import router
from paylab.merchant.runtime import RUNTIME, Runtime, build_runtime
from paylab.merchant.seed import router as seed_router
from paylab.merchant.settings import MerchantSettings, get_merchant_settings

TITLE = "Paylab merchant"


def create(engine: Engine | None = None, settings: MerchantSettings | None = None) -> FastAPI:
    """The merchant app; the webhook delivery loop runs in it unless settings turn it off."""
    custom = engine is not None or settings is not None
    settings = settings or get_merchant_settings()  # invalid settings fail here, at startup
    runtime: Lazy[Runtime] = Lazy(lambda: build_runtime(settings, engine)) if custom else RUNTIME
    app = create_app("merchant", [router, jobs.router], title=TITLE)
    app.state.runtime = runtime
    app.include_router(seed_router)  # PUT /internal/merchants/{id}: the demo merchant
    app.include_router(dispersion_router)  # daily payouts (issue 7)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loop: DeliveryLoop | None = None
        if settings.delivery_worker:

            def deliverer() -> Deliverer:
                # Built on the loop's first turn: the app starts before the stack is ready.
                built = runtime()
                built.loop = loop
                return built.deliverer

            def listener() -> Any:
                # Woken by deliveries the queue consumers record (another process).
                return listener_factory(runtime().sessions.kw["bind"])()

            loop = DeliveryLoop(
                deliverer, settings.delivery_poll_s, settings.delivery_batch, listener
            )
            loop.start()
        try:
            yield
        finally:
            if loop is not None:
                loop.stop()

    app.router.lifespan_context = lifespan
    return app
