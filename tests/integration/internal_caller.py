"""Test clients that call a service as the gateway does: the internal credential as it is
when each request leaves (a session-long client outlives a rotation in another test)."""

from __future__ import annotations

import httpx

from paylab.core.internal_auth import HEADER, internal_credential


def _sign(request: httpx.Request) -> None:
    if HEADER not in request.headers:  # a test may present another one on purpose
        request.headers[HEADER] = internal_credential()


def as_internal_caller(client: httpx.Client) -> httpx.Client:
    """`client` with the current internal credential on every request that has none."""
    client.event_hooks["request"] = [*client.event_hooks["request"], _sign]
    return client
