"""The running stack's demo merchant, logged in through the gateway (for tests and scripts)."""

from __future__ import annotations

from typing import Any

import httpx

from paylab.core.settings import get_settings
from paylab.devstack.stack import DevStack

GATEWAY = "http://127.0.0.1:8080"


def demo_login(gateway: str = GATEWAY) -> tuple[dict[str, Any], str]:
    """`./paylab status --json`'s `demo` (its keys and merchant id) and a bearer token for it."""
    demo = DevStack(get_settings()).status().get("demo")
    if not demo:
        raise AssertionError("no demo merchant: run ./paylab up")
    login = httpx.post(
        f"{gateway}/v1/auth/login",
        json={"public_key": demo["public_key"], "private_key": demo["private_key"]},
        timeout=10.0,
    )
    if login.status_code != 200:
        raise AssertionError(f"the demo merchant cannot log in: {login.status_code} {login.text}")
    return dict(demo), str(login.json()["bearer_token"])
