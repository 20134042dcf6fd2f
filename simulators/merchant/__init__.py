"""Merchant-side receiver: records confirmation webhooks and checks their x_signature.

Partners run it to see exactly what their confirmation endpoint will get; tests point a
merchant's confirmation URL at it and tell it to fail through the shared /_sim/ faults.
"""

from __future__ import annotations

from simulators.app import SimulatorSpec
from simulators.merchant.routes import admin, router
from simulators.merchant.state import ReceiverState

SPEC = SimulatorSpec("merchant", [router, admin], lambda ctx, clock: ReceiverState(ctx.rng, clock))
create_app = SPEC.create_app
