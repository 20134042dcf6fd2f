"""Which service a public path goes to, and which paths are never forwarded at all."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    prefix: str
    service: str
    public: bool = False  # no bearer token needed
    exact: bool = False
    operator: bool = False  # answered by the gateway itself (gateway/ops.py), operator key


# Longest prefix first: /v1/merchants/me/balance belongs to wallet, the rest of /v1/merchants
# to merchant. Only /v1/... is routed, so the services' /internal/* never leaves the host.
ROUTES: tuple[Route, ...] = (
    Route("/v1/auth/login", "auth", public=True, exact=True),
    # Merchant self-signup (ePayco's web form): no token yet; the merchant service limits it.
    Route("/v1/merchants", "merchant", public=True, exact=True),
    Route("/v1/merchants/me/balance", "wallet", exact=True),
    Route("/v1/notifications", "notification"),
    Route("/v1/merchants", "merchant"),
    Route("/v1/payments", "payment"),
    Route("/v1/wallets", "wallet"),
    Route("/v1/audit", "audit"),
    Route("/v1/auth", "auth"),
    Route("/v1/ops", "ops", operator=True),
)

# Requests that change where a merchant's money or notices go: they need a recently issued
# token (GatewaySettings.step_up_max_age_seconds), not just a valid one.
STEP_UP: frozenset[tuple[str, str]] = frozenset(
    {
        ("PUT", "/v1/merchants/me/payout-account"),
        ("PATCH", "/v1/merchants/me"),
        ("PUT", "/v1/merchants/me/webhook"),  # where payment confirmations go
    }
)


def needs_step_up(method: str, path: str) -> bool:
    """True for the requests only a recently issued token may send."""
    return (method.upper(), path.rstrip("/") or "/") in STEP_UP


_ENCODED_DANGER = re.compile(rb"%(2e|2f|5c|00)", re.IGNORECASE)
MAX_PATH = 2048


def match(path: str) -> Route | None:
    """The route for a (decoded, already checked) path, or None."""
    for route in ROUTES:
        if path == route.prefix or (not route.exact and path.startswith(route.prefix + "/")):
            return route
    return None


def is_safe_path(path: str, raw_path: bytes) -> bool:
    """False for anything a client could use to reach another path upstream.

    httpx (and many servers) resolve dot segments, so `/v1/payments/../../internal/x` would
    arrive upstream as `/internal/x`; encoded slashes, backslashes and NULs are refused too.
    """
    if len(raw_path) > MAX_PATH or not path.startswith("/") or _ENCODED_DANGER.search(raw_path):
        return False
    if "//" in path or "\\" in path or b"\\" in raw_path or not path.isprintable():
        return False
    return not any(segment in (".", "..") for segment in path.split("/"))
