"""merchant's calls to other services read the internal credential again after a 401 and
send once more, even when no retries are configured (a rotation is not an outage)."""

from __future__ import annotations

import httpx
import pytest

from paylab.merchant.clients import InternalClient, UpstreamUnavailable


class Credential:
    def __init__(self) -> None:
        self.value, self.fresh_reads = "old", 0

    def __call__(self, *, refresh: bool = False) -> str:
        if refresh:
            self.fresh_reads += 1
            self.value = "new"
        return self.value


def client(accepted: str, seen: list[str], credential: Credential) -> InternalClient:
    def answer(request: httpx.Request) -> httpx.Response:
        key = request.headers["x-paylab-internal-key"]
        seen.append(key)
        if key != accepted:
            return httpx.Response(401, json={"type": "x/internal-credential-refused"})
        return httpx.Response(200, json={"ok": True})

    http = httpx.Client(base_url="http://wallet.test", transport=httpx.MockTransport(answer))
    return InternalClient(http, attempts=1, credential=credential)


def test_a_refused_credential_is_read_again_and_the_call_sent_once_more() -> None:
    seen: list[str] = []
    credential = Credential()
    assert client("new", seen, credential).call("GET", "/internal/x") == {"ok": True}
    assert seen == ["old", "new"] and credential.fresh_reads == 1


def test_a_fresh_credential_refused_again_is_an_outage_not_a_refusal() -> None:
    seen: list[str] = []
    with pytest.raises(UpstreamUnavailable, match="401"):
        client("other", seen, Credential()).call("GET", "/internal/x")
    assert seen == ["old", "new"]


def test_a_401_that_is_not_about_the_credential_is_not_resent() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["x-paylab-internal-key"])
        return httpx.Response(401, json={"type": "x/unauthenticated"})

    http = httpx.Client(base_url="http://wallet.test", transport=httpx.MockTransport(answer))
    credential = Credential()
    with pytest.raises(UpstreamUnavailable, match="401"):
        InternalClient(http, attempts=1, credential=credential).call("GET", "/internal/x")
    assert seen == ["old"] and credential.fresh_reads == 0
