"""Headers: identity headers from clients never pass, the gateway's own always do."""

from __future__ import annotations

from paylab.gateway.headers import client_headers, client_ip, upstream_headers


def forward(incoming: list[tuple[str, str]], merchant: str | None = "m-1") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in upstream_headers(
        incoming,
        internal_key="k",
        merchant_id=merchant,
        request_id="r",
        correlation_id="c",
        client_ip="1.2.3.4",
    ):
        out.setdefault(name.lower(), []).append(value)
    return out


def test_spoofed_identity_headers_are_replaced_in_every_spelling() -> None:
    out = forward(
        [
            ("X-Paylab-Merchant-Id", "victim"),
            ("x-paylab-merchant-id", "victim2"),
            ("X_Paylab_Merchant_Id", "victim3"),
            ("X-PAYLAB-INTERNAL-KEY", "guess"),
            ("x-paylab-anything-new", "x"),
            ("Authorization", "Bearer t"),
            ("X-Forwarded-For", "10.0.0.1"),
        ]
    )
    assert out["x-paylab-merchant-id"] == ["m-1"]
    assert out["x-paylab-internal-key"] == ["k"]
    assert "x_paylab_merchant_id" not in out and "x-paylab-anything-new" not in out
    assert "authorization" not in out
    assert out["x-forwarded-for"] == ["1.2.3.4"]


def test_anonymous_requests_carry_no_merchant() -> None:
    out = forward([("X-Paylab-Merchant-Id", "victim")], merchant=None)
    assert "x-paylab-merchant-id" not in out
    assert out["x-paylab-internal-key"] == ["k"]


def test_ids_and_idempotency_key_pass_hop_by_hop_does_not() -> None:
    out = forward(
        [
            ("Idempotency-Key", "idem-1"),
            ("X-Request-Id", "client-chosen"),
            ("Content-Type", "application/json"),
            ("Connection", "keep-alive, X-Secret-Hop"),
            ("X-Secret-Hop", "1"),
            ("Transfer-Encoding", "chunked"),
            ("Host", "evil"),
            ("Content-Length", "5"),
        ]
    )
    assert out["idempotency-key"] == ["idem-1"]
    assert out["x-request-id"] == ["r"] and out["x-correlation-id"] == ["c"]
    assert out["content-type"] == ["application/json"]
    for name in ("connection", "x-secret-hop", "transfer-encoding", "host", "content-length"):
        assert name not in out


def test_response_headers_lose_internal_and_hop_by_hop_ones() -> None:
    kept = dict(
        client_headers(
            [
                ("content-type", "application/json"),
                ("location", "/v1/payments/p1"),
                ("x-paylab-internal-key", "leak"),
                ("transfer-encoding", "chunked"),
                ("content-encoding", "gzip"),
                ("x-request-id", "upstream"),
            ]
        )
    )
    assert kept == {"content-type": "application/json", "location": "/v1/payments/p1"}


def test_client_ip_trusts_only_the_configured_proxies() -> None:
    assert client_ip("10.0.0.9", "6.6.6.6", 0) == "10.0.0.9"
    assert client_ip("10.0.0.9", "6.6.6.6, 7.7.7.7", 1) == "7.7.7.7"
    assert client_ip("10.0.0.9", "6.6.6.6, 7.7.7.7", 2) == "6.6.6.6"
    assert client_ip("10.0.0.9", None, 2) == "10.0.0.9"
    assert client_ip(None, None, 0) == "unknown"


def test_a_client_ip_stated_by_the_proxy_in_front_wins_over_the_forwarded_chain() -> None:
    assert client_ip("10.0.0.9", "6.6.6.6, 10.0.1.5", 2, stated=" 203.0.113.7 ") == "203.0.113.7"
    assert client_ip("10.0.0.9", "6.6.6.6", 1, stated="") == "6.6.6.6"
    assert client_ip("10.0.0.9", "6.6.6.6", 1, stated=None) == "6.6.6.6"
