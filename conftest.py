"""Run-wide settings for the suites that drive the running stack.

The suites reuse the bank simulator's magic cards (approved, declined, insufficient funds...)
across hundreds of payments, and antifraud's velocity rule (more than 5 attempts per card or 10
per e-mail in 10 minutes) would send them to review, where a payment is held for an operator
(cod 7). For the length of the run this session holds a lease on velocity limits no suite
reaches (antifraud's `PUT /v1/rules/leases/{holder}`), renewed while it runs and ended at the
end; the rules themselves (block lists, amount review and reject) are never changed, and the
review path has its own feature (features/payments/held.feature). A run that is killed stops
renewing and its lease lapses within LEASE_TTL_S; runs that overlap (a developer's, CI's, a
helper's) each hold their own, so one ending never lowers the limits under another.
A run without the stack (unit tests alone) leaves antifraud alone.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

QA_VELOCITY = {"max_per_card": 10_000, "max_per_email": 10_000, "max_per_ip": 10_000}
LEASE_TTL_S = 120
RENEW_EVERY_S = 30.0
log = logging.getLogger(__name__)


def _antifraud() -> tuple[str, Any] | None:
    """The stack's antifraud URL and our partner auth, or None when no stack is running."""
    try:
        from paylab.core.partner_keys import partner_auth
        from paylab.devstack.stack import SIMULATORS

        url = f"http://127.0.0.1:{SIMULATORS['antifraud']}"
        auth = partner_auth("antifraud")
        httpx.get(f"{url}/v1/rules", auth=auth, timeout=2.0).raise_for_status()
        return url, auth
    except Exception:  # no stack, no stack outputs, no simulator: nothing to configure
        return None


@pytest.fixture(scope="session", autouse=True)
def _qa_velocity_limits() -> Iterator[None]:
    found = _antifraud()
    if found is None:
        yield
        return
    url, auth = found
    lease = f"{url}/v1/rules/leases/pytest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    body = {**QA_VELOCITY, "ttl_s": LEASE_TTL_S}
    httpx.put(lease, json=body, auth=auth, timeout=5.0).raise_for_status()
    done = threading.Event()

    def renew() -> None:
        # Also takes the lease again if the simulators restarted in the meantime.
        while not done.wait(RENEW_EVERY_S):
            try:
                httpx.put(lease, json=body, auth=auth, timeout=5.0).raise_for_status()
            except httpx.HTTPError as exc:
                log.warning("could not renew the antifraud velocity lease: %s", exc)

    renewer = threading.Thread(target=renew, name="velocity-lease", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join(timeout=10.0)
        httpx.delete(lease, auth=auth, timeout=5.0)
