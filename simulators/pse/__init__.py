"""PSE simulator (ACH Colombia style bank transfers) with a simulated bank page."""

from __future__ import annotations

from simulators.app import SimulatorSpec
from simulators.pse.routes import admin, router
from simulators.pse.state import PseState

SPEC = SimulatorSpec(
    "pse", [router, admin], lambda ctx, clock: PseState(ctx.rng, ctx.callbacks, clock)
)
create_app = SPEC.create_app
