"""What crosses the gateway: the headers it strips, the ones it sets, the client's IP."""

from __future__ import annotations

from collections.abc import Iterable

from paylab.core.internal_auth import HEADER as INTERNAL_HEADER
from paylab.core.internal_auth import MERCHANT_HEADER

# RFC 9110 §7.6.1 hop-by-hop headers, plus what the gateway itself decides.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
    }
)
_NOT_FORWARDED = _HOP_BY_HOP | {
    "authorization",  # services trust the gateway's headers, never the client's token
    "cookie",
    "accept-encoding",  # the gateway asks for identity so bodies pass through unchanged
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "x-request-id",
    "x-correlation-id",
}
_NOT_RETURNED = _HOP_BY_HOP | {
    "content-encoding",
    "server",
    "date",
    "x-request-id",
    "x-correlation-id",
}
_INTERNAL_PREFIX = "x-paylab-"


def _normalized(name: str) -> str:
    # Some stacks treat "_" like "-" (CGI-style); X_Paylab_Merchant_Id must not slip through.
    return name.strip().lower().replace("_", "-")


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    return {
        _normalized(token)
        for name, value in headers
        if _normalized(name) == "connection"
        for token in value.split(",")
    }


def upstream_headers(
    incoming: Iterable[tuple[str, str]],
    *,
    internal_key: str,
    merchant_id: str | None,
    request_id: str,
    correlation_id: str,
    client_ip: str,
) -> list[tuple[str, str]]:
    """The client's headers minus anything identity-bearing, plus the gateway's own."""
    incoming = list(incoming)
    dropped = _NOT_FORWARDED | _connection_tokens(incoming)
    kept = [
        (name, value)
        for name, value in incoming
        if _normalized(name) not in dropped and not _normalized(name).startswith(_INTERNAL_PREFIX)
    ]
    kept += [
        (INTERNAL_HEADER, internal_key),
        ("X-Request-Id", request_id),
        ("X-Correlation-Id", correlation_id),
        ("X-Forwarded-For", client_ip),
        ("Accept-Encoding", "identity"),
    ]
    if merchant_id is not None:
        kept.append((MERCHANT_HEADER, merchant_id))
    return kept


def client_headers(upstream: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The upstream's response headers the client may see."""
    upstream = list(upstream)
    dropped = _NOT_RETURNED | _connection_tokens(upstream)
    return [
        (name, value)
        for name, value in upstream
        if _normalized(name) not in dropped and not _normalized(name).startswith(_INTERNAL_PREFIX)
    ]


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted_hops: int, stated: str | None = None
) -> str:
    """The client's address: what the proxy in front `stated` (its own header, when one is
    configured), else the peer, or the entry `trusted_hops` proxies back in XFF."""
    if stated and stated.strip():
        return stated.strip()[:64]
    chain = (
        [p.strip() for p in (forwarded_for or "").split(",") if p.strip()] if trusted_hops else []
    )
    chain.append(peer or "unknown")
    return chain[max(0, len(chain) - 1 - trusted_hops)][:64]
