"""Antifraud simulator: score, decision and reasons; rules and block lists editable."""

from __future__ import annotations

from simulators.antifraud.routes import router
from simulators.antifraud.state import AntifraudState
from simulators.app import SimulatorSpec

SPEC = SimulatorSpec("antifraud", [router], lambda ctx, clock: AntifraudState(ctx.rng, clock))
create_app = SPEC.create_app
