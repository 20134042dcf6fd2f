"""The SSRF guard on confirmation URLs: loopback only locally, public only on AWS."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import httpx
import pytest

from paylab.merchant.delivery import Claimed, Deliverer
from paylab.merchant.settings import MerchantSettings, UrlPolicy
from paylab.merchant.urls import Resolver, UnsafeUrl, check_url, pinned


def resolver(table: dict[str, list[str]]) -> Resolver:
    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise UnsafeUrl(f"the host {host!r} does not resolve")
        return table[host]

    return resolve


DNS = resolver(
    {
        "localhost": ["127.0.0.1", "::1"],
        "shop.example.com": ["93.184.216.34"],
        "rebind.example.com": ["93.184.216.34", "10.0.0.5"],
        "internal.example.com": ["10.1.2.3"],
    }
)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9005/confirmation",
        "http://localhost:9105/confirmation?shop=1",
        "https://[::1]/c",
        "http://127.10.0.1/c",
    ],
)
def test_loopback_policy_accepts_this_machine(url: str) -> None:
    assert check_url(url, UrlPolicy.LOOPBACK, DNS) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example.com/confirmation",
        "http://10.0.0.1/c",
        "http://192.168.1.10/c",
        "http://169.254.169.254/latest/meta-data",
    ],
)
def test_loopback_policy_refuses_everything_else(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url(url, UrlPolicy.LOOPBACK, DNS)


def test_public_policy_accepts_public_hosts() -> None:
    url = "https://shop.example.com/epayco/confirmation"
    assert check_url(url, UrlPolicy.PUBLIC, DNS) == url
    assert check_url("http://93.184.216.34:8443/c", UrlPolicy.PUBLIC, DNS)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),  # instance metadata
        ("http://127.0.0.1:8001/internal/merchants/x/api-keys", "127.0.0.1"),
        ("http://localhost/c", "127.0.0.1"),
        ("http://10.0.0.8/c", "10.0.0.8"),
        ("http://172.16.3.4/c", "172.16.3.4"),
        ("http://192.168.0.1/c", "192.168.0.1"),
        ("http://100.64.0.1/c", "100.64.0.1"),  # carrier-grade NAT
        ("http://[::ffff:10.0.0.1]/c", "10.0.0.1"),  # IPv4-mapped IPv6
        ("http://[fd00::1]/c", "fd00::1"),  # unique local
        ("http://0.0.0.0/c", "0.0.0.0"),
        ("http://internal.example.com/c", "10.1.2.3"),
        ("http://rebind.example.com/c", "10.0.0.5"),  # one private answer is enough to refuse
    ],
)
def test_public_policy_refuses_private_loopback_and_metadata(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why.replace(".", r"\.")):
        check_url(url, UrlPolicy.PUBLIC, DNS)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://localhost/c", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://localhost:6379/_FLUSHALL", "only http and https"),
        ("http:///c", "no host"),
        ("http://user:pw@localhost/c", "credentials"),
        ("http://localhost/c#frag", "fragment"),
        ("http://localhost/c d", "spaces"),
        ("http://localhost:99999/c", "not valid"),
        ("http://nowhere.invalid/c", "does not resolve"),
        ("http://localhost/" + "a" * 2100, "longer than"),
    ],
)
def test_malformed_urls(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why):
        check_url(url, UrlPolicy.LOOPBACK, DNS)


@pytest.mark.parametrize(
    ("url", "address", "target", "host", "sni"),
    [
        (
            "https://shop.example.com/hooks?a=1",
            "93.184.216.34",
            "https://93.184.216.34/hooks?a=1",
            "shop.example.com",
            "shop.example.com",
        ),
        (
            "http://localhost:9005/confirmation",
            "::1",
            "http://[::1]:9005/confirmation",
            "localhost:9005",
            None,
        ),
        ("http://127.0.0.1:9005", "127.0.0.1", "http://127.0.0.1:9005/", "127.0.0.1:9005", None),
        (
            "https://bücher.example:8443/h",
            "93.184.216.34",
            "https://93.184.216.34:8443/h",
            "xn--bcher-kva.example:8443",
            "xn--bcher-kva.example",
        ),
    ],
)
def test_a_delivery_is_pinned_to_the_checked_address(
    url: str, address: str, target: str, host: str, sni: str | None
) -> None:
    sent, headers, extensions = pinned(url, address)
    assert (sent, headers) == (target, {"Host": host})
    assert extensions == ({"sni_hostname": sni} if sni else {})


def test_a_host_that_rebinds_after_the_check_is_still_sent_to_the_checked_address() -> None:
    """DNS rebinding: a public answer for the check, an internal one for the connection."""
    answers = iter([["93.184.216.34"], ["169.254.169.254"]])
    seen: list[httpx.Request] = []

    def rebinding(host: str, port: int) -> Sequence[str]:
        return next(answers)

    def endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    settings = MerchantSettings(webhook_url_policy=UrlPolicy.PUBLIC)
    http = httpx.Client(transport=httpx.MockTransport(endpoint))
    deliverer = Deliverer(None, settings, http, resolver=rebinding)  # type: ignore[arg-type]
    claimed = Claimed(uuid.uuid4(), 1, "https://shop.example.com/hooks", {"x_ref_payco": "1"})
    assert deliverer.send(claimed).ok
    (request,) = seen
    assert request.url.host == "93.184.216.34" and request.headers["host"] == "shop.example.com"
    assert request.extensions["sni_hostname"] == "shop.example.com"
    assert next(answers) == ["169.254.169.254"]  # nothing looked the host up a second time


def _deliverer(
    resolver: Resolver, endpoint: Callable[[httpx.Request], httpx.Response]
) -> Deliverer:
    settings = MerchantSettings(webhook_url_policy=UrlPolicy.PUBLIC)
    http = httpx.Client(transport=httpx.MockTransport(endpoint))
    return Deliverer(None, settings, http, resolver=resolver)  # type: ignore[arg-type]


def test_an_address_that_takes_no_connection_gives_way_to_the_next_checked_one() -> None:
    tried: list[str] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        tried.append(request.url.host)
        if request.url.host == "2606:2800:220:1:248:1893:25c8:1946":
            raise httpx.ConnectError("no route to host (IPv6)", request=request)
        return httpx.Response(204)

    both = resolver({"shop.example.com": ["2606:2800:220:1:248:1893:25c8:1946", "93.184.216.34"]})
    claimed = Claimed(uuid.uuid4(), 1, "https://shop.example.com/h", {"x_ref_payco": "1"})
    result = _deliverer(both, endpoint).send(claimed)
    assert result.ok and tried == ["2606:2800:220:1:248:1893:25c8:1946", "93.184.216.34"]


def test_no_address_taking_a_connection_is_a_failed_attempt_not_an_error() -> None:
    def endpoint(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    claimed = Claimed(uuid.uuid4(), 1, "https://shop.example.com/h", {"x_ref_payco": "1"})
    result = _deliverer(DNS, endpoint).send(claimed)
    assert (result.ok, result.permanent) == (False, False)
    assert result.error == "ConnectError: connection refused"
