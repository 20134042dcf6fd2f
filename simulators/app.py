"""Builds a simulator app: the partner routes plus the shared control plane and middleware."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from starlette.types import Receive, Scope, Send

from paylab.core.problems import install_problem_handlers
from simulators import OPENAPI_INFO, api_keys, control
from simulators.callbacks import CallbackConfig, CallbackSender
from simulators.control import SimContext, SimState
from simulators.credentials import random_secret
from simulators.faults import FaultEngine, FaultRule
from simulators.journal import Journal
from simulators.middleware import FastHandler, SimMiddleware
from simulators.seeding import SeededRandom

VERSION = "1.0.0"

Clock = Callable[[], float]
FastRoutes = Callable[[SimContext], dict[tuple[str, str], FastHandler]]


def default_secret(name: str) -> str:
    """Callback secret: `PAYLAB_SIM_<NAME>_SECRET`, else a random one made at start."""
    # No literal default: `paylab up` pushes the stack's secret through /_sim/config, and
    # tests read the random one from there or set their own.
    return os.environ.get(f"PAYLAB_SIM_{name.upper()}_SECRET") or random_secret()


def build_app(
    *,
    name: str,
    title: str,
    description: str,
    routers: list[APIRouter],
    make_state: Callable[[SimContext], SimState],
    seed: int = 0,
    state_file: Path | None = None,
    callback_client: httpx.AsyncClient | None = None,
    journal_capacity: int = 10_000,
    fast_routes: FastRoutes | None = None,
) -> FastAPI:
    """A FastAPI app for one simulator, wrapped in the fault + journal middleware."""
    rng = SeededRandom(seed)
    faults = FaultEngine(rng)
    journal = Journal(journal_capacity)
    callbacks = CallbackSender(
        name, faults, journal, rng, CallbackConfig(secret=default_secret(name)), callback_client
    )
    ctx = SimContext(name, rng, faults, journal, callbacks, state=_NoState())
    ctx.state = make_state(ctx)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state_file is not None and state_file.exists():
            _load(ctx, state_file)
        try:
            yield
        finally:
            await callbacks.close()
            if state_file is not None:
                _save(ctx, state_file)

    app = SimApp(
        title=title,
        description=description,
        version=VERSION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.sim = ctx
    install_problem_handlers(app)
    for router in routers:
        app.include_router(router)
    app.include_router(control.router)
    app.include_router(api_keys.admin)
    app.include_router(api_keys.probe)
    app.sim_middleware = SimMiddleware(
        app.asgi_without_sim,
        faults,
        journal,
        fast_routes(ctx) if fast_routes else None,
        api_keys=ctx.api_keys,
    )
    return app


@dataclass(frozen=True)
class SimulatorSpec:
    """What makes simulator `name`: its routes and its state; `create_app` builds its app."""

    name: str
    routers: list[APIRouter]
    make_state: Callable[[SimContext, Clock], SimState]
    fast_routes: FastRoutes | None = None

    def create_app(
        self,
        *,
        seed: int = 0,
        state_file: Path | None = None,
        callback_client: httpx.AsyncClient | None = None,
        clock: Clock = time.time,
    ) -> FastAPI:
        """The simulator's app; its state reads time from `clock`."""
        title, description = OPENAPI_INFO[self.name]
        return build_app(
            name=self.name,
            title=title,
            description=description,
            routers=self.routers,
            make_state=lambda ctx: self.make_state(ctx, clock),
            seed=seed,
            state_file=state_file,
            callback_client=callback_client,
            fast_routes=self.fast_routes,
        )


class SimApp(FastAPI):
    """FastAPI with the fault + journal middleware outermost, ahead of FastAPI's own layers.

    Outermost, so the hot path skips FastAPI's per-request machinery and every answer the
    client sees (injected faults included) is what the journal records.
    """

    sim_middleware: SimMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.sim_middleware is not None and scope["type"] == "http":
            await self.sim_middleware(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def asgi_without_sim(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The plain FastAPI app behind the simulator middleware."""
        await super().__call__(scope, receive, send)


class _NoState:
    def reset(self) -> None:
        return None

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, data: dict[str, Any]) -> None:
        return None


def _save(ctx: SimContext, path: Path) -> None:
    doc = {
        "name": ctx.name,
        "seed": ctx.rng.seed,
        "id_epoch": ctx.rng.epoch,
        "faults": [r.model_dump(mode="json") for r in ctx.faults.rules()],
        "state": ctx.state.snapshot(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True))
    tmp.replace(path)


def _load(ctx: SimContext, path: Path) -> None:
    doc = json.loads(path.read_text())
    if doc.get("name") != ctx.name:
        raise ValueError(f"{path} holds the state of {doc.get('name')!r}, not {ctx.name!r}")
    # Never an id the saving process (or one before it) handed out: restored state holds them.
    ctx.rng.resume(int(doc.get("seed", ctx.rng.seed)), int(doc.get("id_epoch", 0)))
    ctx.faults.load([FaultRule.model_validate(raw) for raw in doc.get("faults", [])])
    ctx.state.restore(doc.get("state", {}))
