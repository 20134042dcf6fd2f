"""GET /v1/audit/events and /v1/audit/verify: a merchant sees its own events only, in order."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from paylab.core.events import Envelope
from paylab.core.internal_auth import HEADER, internal_credential

from ..resources import delete_api_keys
from .conftest import as_merchant, uid

GATEWAY = "http://127.0.0.1:8080"
AUTH = "http://127.0.0.1:8001"


def test_a_subjects_events_come_oldest_first_a_page_at_a_time(
    client: TestClient, appended: Callable[..., list[Envelope]]
) -> None:
    merchant, subject = uid("merchant"), uid("pay")
    events = appended(subject, merchant, 5)
    appended(uid("pay"), merchant, 1)  # another subject of the same merchant: not listed
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"subject_id": subject, "limit": "2", **({"cursor": cursor} if cursor else {})}
        r = client.get("/v1/audit/events", params=params, headers=as_merchant(merchant))
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        seen += [item["event_id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [e.id for e in events]
    assert pages == 3
    first = client.get(
        "/v1/audit/events", params={"subject_id": subject}, headers=as_merchant(merchant)
    ).json()["items"][0]
    assert first["data"] == events[0].data
    assert first["correlation_id"] == events[0].correlation_id
    assert len(first["row_hash"]) == 64


def test_a_merchant_never_sees_another_merchants_events(
    client: TestClient, appended: Callable[..., list[Envelope]]
) -> None:
    owner, other, subject = uid("merchant"), uid("merchant"), uid("pay")
    appended(subject, owner, 2)
    appended(subject, None, 1)  # an event that names no merchant is nobody's
    r = client.get("/v1/audit/events", params={"subject_id": subject}, headers=as_merchant(other))
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []
    r = client.get("/v1/audit/events", params={"subject_id": subject}, headers=as_merchant(owner))
    assert len(r.json()["items"]) == 2


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"subject_id": ""},
        {"subject_id": "pay\x00x"},
        {"subject_id": "x" * 201},
        {"subject_id": "p", "cursor": "0"},
        {"subject_id": "p", "cursor": "-1"},
        {"subject_id": "p", "limit": "0"},
        {"subject_id": "p", "limit": "201"},
    ],
)
def test_bad_queries_are_422_problems(client: TestClient, params: dict[str, str]) -> None:
    r = client.get("/v1/audit/events", params=params, headers=as_merchant("m"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_callers_must_be_the_gateway_with_a_merchant(client: TestClient) -> None:
    r = client.get("/v1/audit/events", params={"subject_id": "p"})
    assert r.status_code == 401
    r = client.get("/v1/audit/verify", headers={HEADER: "wrong", **as_merchant("m")})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


def test_verify_answers_for_the_real_chain(client: TestClient) -> None:
    r = client.get("/v1/audit/verify", headers=as_merchant(uid("merchant")))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True, body
    assert body["first_broken"] is None
    assert body["rows_checked"] >= 1


@pytest.fixture
def logged_in() -> Iterator[Callable[[], tuple[str, str]]]:
    """logged_in() -> (merchant id, bearer token) of a new merchant, via the live gateway."""
    created: list[str] = []

    def login() -> tuple[str, str]:
        merchant = f"it-audit-{uuid.uuid4().hex[:12]}"
        keys = httpx.post(
            f"{AUTH}/internal/merchants/{merchant}/api-keys",
            headers={HEADER: internal_credential()},
            timeout=10,
        )
        assert keys.status_code == 201, keys.text
        created.append(merchant)
        pair = {k: keys.json()[k] for k in ("public_key", "private_key")}
        token = httpx.post(f"{GATEWAY}/v1/auth/login", json=pair, timeout=10)
        assert token.status_code == 200, token.text
        return merchant, str(token.json()["bearer_token"])

    yield login
    delete_api_keys(created)


@pytest.mark.stack
def test_through_the_gateway_each_merchant_sees_only_its_own(
    logged_in: Callable[[], tuple[str, str]], appended: Callable[..., list[Envelope]]
) -> None:
    (a, token_a), (_, token_b) = logged_in(), logged_in()
    subject = uid("pay")
    events = appended(subject, a, 2)

    def get(path: str, token: str) -> httpx.Response:
        return httpx.get(
            f"{GATEWAY}{path}",
            params={"subject_id": subject},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    mine, theirs = get("/v1/audit/events", token_a), get("/v1/audit/events", token_b)
    assert mine.status_code == theirs.status_code == 200, (mine.text, theirs.text)
    assert [i["event_id"] for i in mine.json()["items"]] == [e.id for e in events]
    assert theirs.json()["items"] == []
    verify = get("/v1/audit/verify", token_b)
    assert verify.status_code == 200, verify.text
    assert verify.json()["ok"] is True
    assert get("/v1/audit/events", "not-a-token").status_code == 401
