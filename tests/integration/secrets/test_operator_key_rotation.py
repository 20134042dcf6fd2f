"""The operator key rotates with its own Lambda; the running gateway takes the new key within
a second."""

from __future__ import annotations

import httpx
import pytest

from paylab import cli_secrets
from paylab.core.aws import client
from paylab.core.internal_auth import operator_key
from paylab.core.stack_outputs import output
from paylab.gateway.ops import OPS_KEY_HEADER

from ..waiting import wait_until

pytestmark = pytest.mark.timeout(120)
GATEWAY = "http://127.0.0.1:8080"
REDRIVE = f"{GATEWAY}/v1/ops/dlq/audit-ops/redrive"


def redrive(key: str) -> int:
    return httpx.post(REDRIVE, headers={OPS_KEY_HEADER: key}, timeout=60.0).status_code


def test_the_new_key_works_at_once_and_the_old_one_stops() -> None:
    before = operator_key(refresh=True)
    assert redrive(before) == 200  # the gateway holds the current key
    sm = client("secretsmanager")
    try:
        cli_secrets.rotate(sm, client("logs"), output("OperatorKeySecretArn"), timeout=60)
    finally:
        after = operator_key(refresh=True)  # this process's cache: later tests present it
    assert after != before and len(after) == 48
    # The gateway still caches the old key (30 s): the new one makes it read the secret again,
    # at most once a second (the last read may have been a moment before the rotation).
    wait_until(lambda: redrive(after) == 200, timeout=5, description="the new key accepted")
    assert redrive(before) == 403
