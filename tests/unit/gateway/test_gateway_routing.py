"""Routing: prefixes to services, public login only, nothing else reachable."""

from __future__ import annotations

import pytest

from paylab.gateway import routing
from paylab.gateway.routing import is_safe_path, match


@pytest.mark.parametrize(
    ("path", "service", "public"),
    [
        ("/v1/auth/login", "auth", True),
        ("/v1/auth/other", "auth", False),
        ("/v1/payments", "payment", False),
        ("/v1/payments/p1/refund", "payment", False),
        ("/v1/wallets/abc", "wallet", False),
        ("/v1/merchants/me/balance", "wallet", False),
        ("/v1/merchants/me", "merchant", False),
        ("/v1/merchants/me/balance/x", "merchant", False),
        ("/v1/notifications", "notification", False),
        ("/v1/audit/entries", "audit", False),
    ],
)
def test_prefixes_go_to_their_service(path: str, service: str, public: bool) -> None:
    route = match(path)
    assert route is not None and route.service == service and route.public is public


@pytest.mark.parametrize(
    "path",
    [
        "/internal/api-keys/x",
        "/",
        "/v1",
        "/v1/paymentsX",
        "/v2/payments",
        "/v1/auth/login/x",
        "/health/x",
        "/V1/payments",
    ],
)
def test_everything_else_has_no_route(path: str) -> None:
    route = match(path)
    assert route is None or (path == "/v1/auth/login/x" and not route.public)


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/payments/../../internal/x", b"/v1/payments/../../internal/x"),
        ("/v1/payments/../../internal/x", b"/v1/payments/%2e%2e/%2E%2E/internal/x"),
        ("/v1/payments/./x", b"/v1/payments/./x"),
        ("/v1/payments//x", b"/v1/payments//x"),
        ("/v1/payments/a/b", b"/v1/payments/a%2Fb"),
        ("/v1/payments/a\\b", b"/v1/payments/a%5cb"),
        ("/v1/payments/a\x00", b"/v1/payments/a%00"),
        ("/v1/payments/a\nb", b"/v1/payments/a%0Ab"),
        ("v1/payments", b"v1/payments"),
        ("/v1/payments/" + "a" * 3000, b"/v1/payments/" + b"a" * 3000),
    ],
)
def test_paths_that_could_reach_elsewhere_are_unsafe(path: str, raw: bytes) -> None:
    assert not is_safe_path(path, raw)


def test_ordinary_paths_are_safe() -> None:
    assert is_safe_path("/v1/payments/pay_123", b"/v1/payments/pay_123")
    assert is_safe_path("/v1/payments/a b", b"/v1/payments/a%20b")
    assert is_safe_path("/v1/payments/x.y", b"/v1/payments/x.y")


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("PUT", "/v1/merchants/me/payout-account", True),
        ("put", "/v1/merchants/me/payout-account/", True),
        ("PATCH", "/v1/merchants/me", True),
        ("GET", "/v1/merchants/me/payout-account", False),
        ("GET", "/v1/merchants/me", False),
        ("PUT", "/v1/merchants/me/webhook", True),
        ("GET", "/v1/merchants/me/webhook", False),
        ("POST", "/v1/merchants/me/signature-keys", False),
        ("POST", "/v1/payments", False),
    ],
)
def test_only_changes_of_where_money_and_notices_go_need_a_fresh_token(
    method: str, path: str, needed: bool
) -> None:
    assert routing.needs_step_up(method, path) is needed
