"""Readers: cached values, and the fallback to a fresh AWSCURRENT, then AWSPENDING, on refusal."""

from __future__ import annotations

import json

import httpx

from paylab.core.partner_keys import HEADER, PartnerKeyAuth
from paylab.core.secrets import SecretReader

from .fakes import FakeSecretsManager

SECRET = "paylab/partners/bank"


def _secret(key: str) -> str:
    return json.dumps({"partner": "bank", "api_key": key})


def _sm(key: str) -> FakeSecretsManager:
    sm = FakeSecretsManager()
    sm.create(SECRET, _secret(key))
    return sm


def test_the_reader_caches_until_asked_to_refresh() -> None:
    sm = _sm("k1")
    reader = SecretReader(ttl_seconds=300, sm=sm)
    assert reader.get_json(SECRET)["api_key"] == "k1"
    sm.put_secret_value(SECRET, "v2", _secret("k2"), ["AWSCURRENT"])
    assert reader.get_json(SECRET)["api_key"] == "k1"
    assert reader.get_json(SECRET, refresh=True)["api_key"] == "k2"
    assert sm.reads == 2


def test_candidates_are_cached_then_fresh_then_pending_without_repeats() -> None:
    sm = _sm("k1")
    reader = SecretReader(sm=sm)
    reader.get(SECRET)
    assert [c["api_key"] for c in reader.candidates(SECRET)] == ["k1"]
    token = sm.start_rotation(SECRET)
    sm.put_secret_value(SECRET, token, _secret("k2"), ["AWSPENDING"])
    assert [c["api_key"] for c in reader.candidates(SECRET)] == ["k1", "k2"]


def _partner(accepted: set[str], seen: list[str | None]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        key = request.headers.get(HEADER)
        seen.append(key)
        return httpx.Response(200 if key in accepted else 401, json={"ok": key in accepted})

    return httpx.MockTransport(handle)


def _client(sm: FakeSecretsManager, accepted: set[str], seen: list[str | None]) -> httpx.Client:
    auth = PartnerKeyAuth("bank", reader=SecretReader(sm=sm), secret_id=SECRET)
    return httpx.Client(transport=_partner(accepted, seen), auth=auth, base_url="http://bank")


def test_the_key_goes_in_the_header() -> None:
    seen: list[str | None] = []
    with _client(_sm("k1"), {"k1"}, seen) as client:
        assert client.post("/v1/tokens", json={}).status_code == 200
    assert seen == ["k1"]


def test_a_refused_cached_key_is_read_again_once() -> None:
    sm = _sm("k1")
    seen: list[str | None] = []
    with _client(sm, {"k2"}, seen) as client:
        client.get("/v1/x")  # caches k1 (refused, nothing newer yet)
        sm.put_secret_value(SECRET, "v2", _secret("k2"), ["AWSCURRENT"])
        assert client.post("/v1/tokens", json={"a": 1}).status_code == 200
    assert seen == ["k1", "k1", "k2"]


def test_between_set_and_finish_the_pending_key_is_tried() -> None:
    sm = _sm("k1")
    token = sm.start_rotation(SECRET)
    sm.put_secret_value(SECRET, token, _secret("k2"), ["AWSPENDING"])
    seen: list[str | None] = []
    with _client(sm, {"k2"}, seen) as client:
        assert client.get("/v1/x").status_code == 200
    assert seen == ["k1", "k2"]


def test_when_every_candidate_is_refused_the_401_comes_back() -> None:
    seen: list[str | None] = []
    with _client(_sm("k1"), set(), seen) as client:
        assert client.get("/v1/x").status_code == 401
    assert seen == ["k1"]
