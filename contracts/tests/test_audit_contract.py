"""Audit contract: the served OpenAPI equals the committed one; fuzzing finds no 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
import yaml
from fastapi import FastAPI
from hypothesis import settings

from paylab.audit.app import create
from paylab.core.openapi_export import served, spec_path


def test_served_spec_equals_committed() -> None:
    committed = yaml.safe_load(spec_path("audit").read_text())
    assert served("audit") == committed, "run: python -m paylab.core.openapi_export audit"


def test_spec_declares_problems_and_the_two_public_routes() -> None:
    doc = yaml.safe_load(spec_path("audit").read_text())
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path.startswith(("/v1/", "/internal/audit")):
                assert "401" in op["responses"], f"{method.upper()} {path} lacks its 401"
            if op.get("parameters"):
                assert "422" in op["responses"], f"{method.upper()} {path} lacks its 422"
    assert {"/v1/audit/events", "/v1/audit/verify"} <= set(doc["paths"])
    verification = doc["components"]["schemas"]["Verification"]
    assert set(verification["required"]) == {"ok", "rows_checked", "first_broken"}


def test_the_gateway_documents_the_same_routes() -> None:
    gateway = yaml.safe_load((spec_path("gateway")).read_text())
    for path in ("/v1/audit/events", "/v1/audit/verify"):
        assert "get" in gateway["paths"][path], path


# Fuzzing needs the running stack's Postgres and the internal credential, like the gateway.
APP: FastAPI = create()
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.mark.integration
@SCHEMA.parametrize()
@settings(max_examples=15, deadline=None)
def test_fuzz_audit(case: Any, gateway_headers: dict[str, Any]) -> None:
    case.call_and_validate(headers=gateway_headers)
