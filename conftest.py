"""Run-wide settings for the suites that drive the running stack.

The suites reuse the bank simulator's magic cards (approved, declined, insufficient funds...)
across hundreds of payments, and antifraud's velocity rule (more than 5 attempts per card or 10
per e-mail in 10 minutes) would send them to review, where a payment is held for an operator
(cod 7). For the length of the run the stack's antifraud gets velocity limits no suite reaches;
everything else (block lists, amount review and reject) stays as it is, the review path has
its own feature (features/payments/held.feature), and the previous rules come back at the end.
A run without the stack (unit tests alone) leaves antifraud alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

QA_VELOCITY = {"max_per_card": 10_000, "max_per_email": 10_000, "max_per_ip": 10_000}


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
    before: dict[str, Any] = httpx.get(f"{url}/v1/rules", auth=auth, timeout=5.0).json()
    r = httpx.put(f"{url}/v1/rules", json={**before, **QA_VELOCITY}, auth=auth, timeout=5.0)
    r.raise_for_status()
    try:
        yield
    finally:
        httpx.put(f"{url}/v1/rules", json=before, auth=auth, timeout=5.0)
