"""Confirmation URLs: what the platform agrees to POST to (an SSRF guard).

A merchant chooses the URL, and our servers call it: without a guard, a URL could reach the
cloud metadata endpoint, the VPC's databases or another service's /internal API. Policy
`public` (AWS) accepts only globally routable addresses; `loopback` (the local stack) accepts
only this machine. Every address a host resolves to must pass, checked when the URL is saved
and again before each delivery (DNS can change in between); redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

import httpx

from paylab.merchant.settings import UrlPolicy

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
MAX_URL = 2048


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why (shown to the merchant)."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"the host {host!r} does not resolve") from exc
    # The resolver's own order (address selection, RFC 6724), without repeats.
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _allowed(address: IpAddress, policy: UrlPolicy) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if policy is UrlPolicy.LOOPBACK:
        return address.is_loopback
    # is_global excludes private, loopback, link-local (169.254.169.254), CGNAT, reserved...
    return address.is_global and not address.is_multicast


def check_url(url: str, policy: UrlPolicy, resolver: Resolver = resolve) -> str:
    """`url` if webhooks may be sent to it under `policy`; UnsafeUrl otherwise."""
    checked_addresses(url, policy, resolver)
    return url


def checked_addresses(url: str, policy: UrlPolicy, resolver: Resolver = resolve) -> list[str]:
    """The addresses `url`'s host resolves to, every one allowed by `policy` (UnsafeUrl if
    not): a delivery connects to one of these, never to what a second lookup says."""
    if len(url) > MAX_URL:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL} characters")
    if not url.isprintable() or any(c.isspace() for c in url):
        raise UnsafeUrl("the URL has spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl(f"the URL is not valid: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("only http and https URLs can receive webhooks")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("the URL must not carry credentials")
    if parts.fragment:
        raise UnsafeUrl("the URL must not have a fragment")
    host = parts.hostname
    try:
        addresses: Sequence[str] = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolver(host, port)
    if not addresses:
        raise UnsafeUrl(f"the host {host!r} does not resolve")
    checked = []
    for raw in addresses:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
        if not _allowed(address, policy):
            where = "this machine (loopback)" if policy is UrlPolicy.LOOPBACK else "public"
            raise UnsafeUrl(f"{host} resolves to {address}, which is not {where}")
        checked.append(str(address))
    return checked


def pinned(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """`url` sent to `address` (checked): the URL with the address as its host, the Host
    header the server expects, and for https the name TLS checks the certificate against.

    A second DNS lookup at connect time could answer an internal address (DNS rebinding):
    the delivery connects to the address that was checked instead.
    """
    parts = urlsplit(url)
    ip = ipaddress.ip_address(address)
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    # The name as it goes on the wire: ASCII (IDNA for an international host), bracketed v6.
    parsed = httpx.URL(url)
    name = parsed.raw_host.decode("ascii")
    shown = f"[{name}]" if ":" in name else name
    host = shown if parsed.port is None else f"{shown}:{parsed.port}"
    extensions = {"sni_hostname": name} if parts.scheme == "https" else {}
    return target, {"Host": host}, extensions
