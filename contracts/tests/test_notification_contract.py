"""Notification contract: the served OpenAPI equals the committed one; fuzzing finds no 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
import yaml
from fastapi import FastAPI
from hypothesis import settings

from paylab.core.openapi_export import served, spec_path
from paylab.notification.app import create


def test_served_spec_equals_committed() -> None:
    committed = yaml.safe_load(spec_path("notification").read_text())
    assert served("notification") == committed, (
        "run: python -m paylab.core.openapi_export notification"
    )


def test_spec_declares_problems_and_the_list_filters() -> None:
    doc = yaml.safe_load(spec_path("notification").read_text())
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert {"401", "422"} <= set(op["responses"]), f"{method.upper()} {path}"
    params = {p["name"] for p in doc["paths"]["/v1/notifications"]["get"]["parameters"]}
    assert params == {"subject_id", "event_id", "channel", "status", "limit", "cursor"}


# Fuzzing needs the running stack's Postgres and the internal credential, like the gateway.
APP: FastAPI = create()
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.mark.integration
@SCHEMA.parametrize()
@settings(max_examples=30, deadline=None)
def test_fuzz_notification(case: Any, gateway_headers: dict[str, Any]) -> None:
    case.call_and_validate(headers=gateway_headers)
