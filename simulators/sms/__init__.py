"""SMS provider simulator: send, delivery receipts as signed callbacks, message log."""

from __future__ import annotations

from simulators.app import SimulatorSpec
from simulators.sms.routes import admin, router
from simulators.sms.state import SmsState

SPEC = SimulatorSpec(
    "sms", [router, admin], lambda ctx, clock: SmsState(ctx.rng, ctx.callbacks, clock)
)
create_app = SPEC.create_app
