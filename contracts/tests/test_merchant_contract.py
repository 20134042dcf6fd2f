"""Merchant contracts: the service and the merchant-side receiver serve their committed
OpenAPI documents, and fuzzing finds no 5xx in either."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from paylab.core.openapi_export import served, spec_path
from paylab.merchant.app import create
from paylab.merchant.settings import MerchantSettings
from simulators.merchant import create_app as create_receiver


def test_served_spec_equals_committed() -> None:
    committed = yaml.safe_load(spec_path("merchant").read_text())
    assert served("merchant") == committed, "run: python -m paylab.core.openapi_export merchant"


def test_receiver_served_spec_equals_committed() -> None:
    committed = yaml.safe_load(spec_path("sim-merchant").read_text())
    with TestClient(create_receiver(seed=1)) as client:
        assert client.get("/openapi.json").json() == committed, (
            "run: python -m paylab.core.openapi_export sim-merchant"
        )


@pytest.mark.parametrize("name", ["merchant", "sim-merchant"])
def test_spec_declares_problems(name: str) -> None:
    doc = yaml.safe_load(spec_path(name).read_text())
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if name == "merchant":
                assert "401" in op["responses"], f"{method.upper()} {path} lacks its 401"
            if op.get("requestBody") or "{" in path:
                assert "422" in op["responses"], f"{method.upper()} {path} lacks its 422"
    assert "format: float" not in spec_path(name).read_text()


def test_signup_returns_every_secret_once_and_nothing_else_does() -> None:
    doc = yaml.safe_load(spec_path("merchant").read_text())
    paths = doc["paths"]
    assert "201" in paths["/v1/merchants"]["post"]["responses"]
    schemas = doc["components"]["schemas"]
    assert "private_key" in schemas["ApiCredentials"]["properties"]
    assert "private_key" not in str(schemas["Merchant"])
    assert "p_key" not in str(schemas["Merchant"]) and "p_key" not in str(
        schemas["WebhookDelivery"]
    )


# The receiver, in process: no network at all.
RECEIVER: FastAPI = create_receiver(seed=1)
RECEIVER_SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", RECEIVER)
EXCLUDED = [positive_data_acceptance]


@RECEIVER_SCHEMA.parametrize()
@settings(max_examples=25, deadline=None)
def test_fuzz_receiver(case: Any) -> None:
    if case.query and "wait_ms" in case.query:
        case.query["wait_ms"] = 0
    try:
        case.call_and_validate(excluded_checks=EXCLUDED)
    finally:
        RECEIVER.state.sim.faults.clear()


# The service needs the running stack's Postgres, auth and wallet, like the wallet's fuzzing.
APP: FastAPI = create(settings=MerchantSettings(delivery_worker=False))
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def gateway_headers() -> Iterator[dict[str, Any]]:
    """The gateway's headers; merchants the fuzzer signed up are deleted afterwards."""
    from sqlalchemy import text

    from paylab.core.db import service_engine
    from paylab.core.internal_auth import HEADER, MERCHANT_HEADER, internal_credential

    started = datetime.now(UTC)
    yield {HEADER: internal_credential(), MERCHANT_HEADER: "merchant-contract-fuzz"}
    engine = service_engine("merchant", pool_size=1)
    with engine.connect() as conn:
        ids = (
            conn.execute(
                text(
                    "SELECT id FROM merchant.merchants WHERE created_at >= :t"
                    " AND registration_key NOT LIKE 'it-%'"
                ),
                {"t": started},
            )
            .scalars()
            .all()
        )
    engine.dispose()
    from tests.integration.merchant.conftest import cleanup

    cleanup(service_engine("merchant", pool_size=1), list(ids))


@pytest.mark.integration
@SCHEMA.parametrize()
@settings(max_examples=15, deadline=None)
def test_fuzz_merchant(case: Any, gateway_headers: dict[str, Any]) -> None:
    case.call_and_validate(headers=gateway_headers, excluded_checks=EXCLUDED)
