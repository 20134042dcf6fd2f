"""Internal API-key endpoints: internal callers only, rotation, revocation, the active cap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paylab.core.internal_auth import HEADER


@pytest.mark.parametrize("headers", [{}, {HEADER: "wrong"}])
def test_internal_endpoints_refuse_other_callers(
    auth_client: TestClient, merchants: Callable[[], str], headers: dict[str, str]
) -> None:
    merchant = merchants()
    for response in (
        auth_client.post(f"/internal/merchants/{merchant}/api-keys", headers=headers),
        auth_client.get(f"/internal/merchants/{merchant}/api-keys", headers=headers),
        auth_client.delete("/internal/api-keys/pub_x", headers=headers),
    ):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


def test_two_active_keys_both_work_until_one_is_revoked(
    auth_client: TestClient,
    issue_key: Callable[..., dict[str, Any]],
    internal_headers: dict[str, str],
) -> None:
    old = issue_key()
    new = issue_key(old["merchant_id"])

    def login(key: dict[str, Any]) -> int:
        body = {"public_key": key["public_key"], "private_key": key["private_key"]}
        return auth_client.post("/v1/auth/login", json=body).status_code

    assert (login(old), login(new)) == (200, 200)
    assert (
        auth_client.delete(
            f"/internal/api-keys/{old['public_key']}", headers=internal_headers
        ).status_code
        == 204
    )
    assert (
        auth_client.delete(  # idempotent
            f"/internal/api-keys/{old['public_key']}", headers=internal_headers
        ).status_code
        == 204
    )
    assert (login(old), login(new)) == (401, 200)
    listed = auth_client.get(
        f"/internal/merchants/{old['merchant_id']}/api-keys", headers=internal_headers
    ).json()["keys"]
    assert {k["public_key"]: k["active"] for k in listed} == {
        old["public_key"]: False,
        new["public_key"]: True,
    }
    assert all("private_key" not in k for k in listed)


def test_active_keys_are_capped_per_merchant(
    make_auth_client: Callable[..., TestClient],
    merchants: Callable[[], str],
    internal_headers: dict[str, str],
) -> None:
    client = make_auth_client(max_active_keys_per_merchant=2)
    merchant = merchants()
    url = f"/internal/merchants/{merchant}/api-keys"
    codes = [client.post(url, headers=internal_headers).status_code for _ in range(3)]
    assert codes == [201, 201, 409]


def test_unknown_keys_and_bad_ids_are_4xx(
    auth_client: TestClient, internal_headers: dict[str, str]
) -> None:
    assert (
        auth_client.delete("/internal/api-keys/pub_nope", headers=internal_headers).status_code
        == 404
    )
    bad = auth_client.post("/internal/merchants/a%20b/api-keys", headers=internal_headers)
    assert bad.status_code == 422
