"""Shared fixtures of the contract tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="module")
def gateway_headers() -> dict[str, Any]:
    """The identity headers the gateway forwards to a service: the internal key and a merchant."""
    from paylab.core.internal_auth import HEADER, MERCHANT_HEADER, internal_credential

    return {HEADER: internal_credential(), MERCHANT_HEADER: "merchant-contract-fuzz"}
