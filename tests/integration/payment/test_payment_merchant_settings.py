"""Per-merchant PSE timeout on Postgres: set, read, used by the next SAGA, reset; bad input 4xx."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient

from ..resources import AwsClients
from .conftest import pse_body

Headers = Callable[..., dict[str, str]]


def _settings_url(merchant: str) -> str:
    return f"/internal/merchants/{merchant}/settings"


def test_an_override_applies_to_the_next_pse_payment_and_null_resets_it(
    client: TestClient,
    headers: Headers,
    internal_headers: dict[str, str],
    merchant: str,
    aws: AwsClients,
    saga_arn: str,
) -> None:
    url = _settings_url(merchant)
    before = client.get(url, headers=internal_headers)
    assert before.status_code == 200, before.text
    assert before.json()["pse_timeout_source"] == "default"
    default = before.json()["pse_timeout_seconds"]

    changed = client.put(url, json={"pse_timeout_seconds": 7}, headers=internal_headers)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {
        "merchant_id": merchant,
        "pse_timeout_seconds": 7,
        "pse_timeout_source": "merchant",
    }
    created = client.post("/v1/payments", json=pse_body(), headers=headers())
    assert created.status_code == 201, created.text
    arn = saga_arn.replace(":stateMachine:", ":execution:") + f":{created.json()['id']}"
    started = aws.stepfunctions.describe_execution(executionArn=arn)
    assert json.loads(started["input"])["pse_timeout_seconds"] == 7

    reset = client.put(url, json={"pse_timeout_seconds": None}, headers=internal_headers)
    assert reset.status_code == 200, reset.text
    assert reset.json()["pse_timeout_seconds"] == default
    assert reset.json()["pse_timeout_source"] == "default"


def test_other_merchants_keep_the_default(
    client: TestClient, internal_headers: dict[str, str], merchant: str
) -> None:
    url = _settings_url(merchant)
    assert client.put(url, json={"pse_timeout_seconds": 9}, headers=internal_headers).is_success
    other = client.get(_settings_url(merchant + "-other"), headers=internal_headers)
    assert other.json()["pse_timeout_source"] == "default"
    client.put(url, json={"pse_timeout_seconds": None}, headers=internal_headers)


def test_bad_settings_are_4xx_problems(
    client: TestClient, internal_headers: dict[str, str], merchant: str
) -> None:
    url = _settings_url(merchant)
    for body in ({}, {"pse_timeout_seconds": 0}, {"pse_timeout_seconds": "x"}, {"other": 1}):
        r = client.put(url, json=body, headers=internal_headers)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert client.put(url, json={"pse_timeout_seconds": 5}).status_code == 401  # no credential
