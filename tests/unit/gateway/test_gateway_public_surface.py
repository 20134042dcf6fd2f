"""What the gateway forwards is the public contract, nothing more.

The gateway routes by prefix (`/v1/wallets` → wallet): every `/v1` route a service serves
under a forwarded prefix is reachable by any merchant with a token. A route left there that
the public contract does not list (a top-up that minted money was one) is an open door.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from fastapi import FastAPI

from paylab.core.openapi_export import spec_path
from paylab.gateway.routing import match

_PARAM = re.compile(r"\{[^}]+\}")


def _apps() -> dict[str, FastAPI]:
    from paylab.audit.app import create as audit
    from paylab.auth.app import create as auth
    from paylab.merchant.app import create as merchant
    from paylab.notification.app import create as notification
    from paylab.payment.app import create as payment
    from paylab.wallet.app import create as wallet

    factories: dict[str, Any] = {
        "audit": audit,
        "auth": auth,
        "merchant": merchant,
        "notification": notification,
        "payment": payment,
        "wallet": wallet,
    }
    return {name: factory() for name, factory in factories.items()}


def _contract() -> set[tuple[str, str]]:
    doc = yaml.safe_load(spec_path("gateway").read_text())
    return {
        (method.upper(), _PARAM.sub("{}", path))
        for path, ops in doc["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_every_route_the_gateway_forwards_is_in_the_public_contract() -> None:
    contract = _contract()
    exposed = set()
    for name, app in _apps().items():
        # The app's own OpenAPI document lists its routes (none under /v1 is hidden from it).
        for path, ops in app.openapi()["paths"].items():
            target = match(_PARAM.sub("x", path))  # a concrete path, as a client sends it
            if target is None or target.service != name:
                continue  # the gateway never forwards it to this service
            for method in ops:
                if method in ("get", "post", "put", "patch", "delete"):
                    exposed.add((method.upper(), _PARAM.sub("{}", path), name))
    extra = sorted((m, p, s) for m, p, s in exposed if (m, p) not in contract)
    assert extra == [], f"served behind the gateway but not in its contract: {extra}"
    assert ("POST", "/v1/payments", "payment") in exposed  # the test sees real routes
