"""Simulator contracts: the served OpenAPI equals the committed one; schemathesis finds no 500s."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.specs.openapi.checks import positive_data_acceptance

from paylab.core.openapi_export import spec_path
from simulators import antifraud, bank, pse, sms

pytestmark = pytest.mark.timeout(600)
NAMES = ("pse", "bank", "antifraud", "sms")


def _ok(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


def fuzz_app(name: str) -> FastAPI:
    """A simulator whose callbacks land in a stub, so fuzzed URLs never reach the network."""
    factory = {"pse": pse, "bank": bank, "antifraud": antifraud, "sms": sms}[name].create_app
    client = httpx.AsyncClient(transport=httpx.MockTransport(_ok))
    return factory(seed=1, callback_client=client)


@pytest.mark.parametrize("name", NAMES)
def test_served_spec_equals_committed(name: str) -> None:
    committed = yaml.safe_load(spec_path(f"sim-{name}").read_text())
    with TestClient(fuzz_app(name)) as client:
        served = client.get("/openapi.json").json()
    assert served == committed, f"run: python -m paylab.core.openapi_export sim-{name}"


@pytest.mark.parametrize("name", NAMES)
def test_spec_declares_problem_responses_and_money_as_strings(name: str) -> None:
    doc = yaml.safe_load(spec_path(f"sim-{name}").read_text())
    assert doc["openapi"].startswith("3.")
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if op.get("requestBody") or "{" in path:
                assert "422" in op["responses"], f"{method.upper()} {path} lacks its 422"
    text = spec_path(f"sim-{name}").read_text()
    assert "format: float" not in text  # money is never a float


APPS = {name: fuzz_app(name) for name in NAMES}
SCHEMAS = {name: schemathesis.openapi.from_asgi("/openapi.json", APPS[name]) for name in NAMES}


def _tame(case: Any) -> None:
    """Keep long-polls short; the fuzzer would otherwise wait out every timeout it picks."""
    if case.query:
        for key in ("wait_ms", "timeout_ms"):
            value = case.query.get(key)
            try:
                too_long = int(value) > 20
            except (TypeError, ValueError):
                continue  # invalid values stay: they must get a 4xx
            if too_long:
                case.query[key] = 20


def _after(name: str) -> None:
    """Faults the fuzzer injected must not leak into the next case."""
    APPS[name].state.sim.faults.clear()


# Business rules (Luhn, a bank PSE knows, an amount above zero, a Colombian mobile) turn away
# some schema-valid data with a 4xx problem on purpose; every other check stays on, including
# "no 5xx" and response-schema conformance.
EXCLUDED = [positive_data_acceptance]


def _run(name: str, case: Any) -> None:
    _tame(case)
    try:
        case.call_and_validate(excluded_checks=EXCLUDED)
    finally:
        _after(name)


@SCHEMAS["pse"].parametrize()
def test_fuzz_pse(case: Any) -> None:
    _run("pse", case)


@SCHEMAS["bank"].parametrize()
def test_fuzz_bank(case: Any) -> None:
    _run("bank", case)


@SCHEMAS["antifraud"].parametrize()
def test_fuzz_antifraud(case: Any) -> None:
    _run("antifraud", case)


@SCHEMAS["sms"].parametrize()
def test_fuzz_sms(case: Any) -> None:
    _run("sms", case)
