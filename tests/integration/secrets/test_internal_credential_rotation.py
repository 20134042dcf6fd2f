"""The internal service credential rotates with its own Lambda: every running service
accepts the new one at once and the one it replaced for the grace (callers cache it), and a
second rotation retires the first within the services' 30 s re-read.

Payments flowing through the gateway and the SAGA's Lambdas while it rotates once and twice:
features/secret_rotation.feature (`internal-service-credential`)."""

from __future__ import annotations

import time

import httpx
import pytest

from paylab import cli_secrets
from paylab.core.aws import client
from paylab.core.internal_auth import HEADER, MERCHANT_HEADER, REFUSED, internal_credential
from paylab.core.stack_outputs import output

from ..waiting import wait_until

pytestmark = pytest.mark.timeout(180)

# One internal request per service that changes nothing (ids that do not exist, no body).
# Whatever each answers (404, 422, 200...), only a 401 of type internal-credential-refused
# means the credential was refused.
PROBES = {
    "auth": ("DELETE", "http://127.0.0.1:8001/internal/api-keys/pub_nonexistent"),
    "payment": ("GET", "http://127.0.0.1:8002/internal/payments/pay_nonexistent"),
    "wallet": ("GET", "http://127.0.0.1:8003/internal/holds/nonexistent"),
    "merchant": ("PUT", "http://127.0.0.1:8004/internal/merchants/nonexistent"),
    "notification": ("GET", "http://127.0.0.1:8005/v1/notifications?limit=1"),
    "audit": ("GET", "http://127.0.0.1:8006/internal/audit/verify"),
}


def refused(key: str) -> dict[str, bool]:
    """Which services refuse an internal request carrying `key`."""
    found = {}
    for name, (method, url) in PROBES.items():
        headers = {HEADER: key, MERCHANT_HEADER: "it-nonexistent"}
        answer = httpx.request(method, url, headers=headers, timeout=30.0)
        assert answer.status_code < 500, (name, answer.status_code, answer.text)
        found[name] = answer.status_code == 401 and answer.json()["type"].endswith(REFUSED)
    return found


NOWHERE = dict.fromkeys(PROBES, False)
EVERYWHERE = dict.fromkeys(PROBES, True)


def rotate() -> str:
    arn = output("InternalServiceCredentialSecretArn")
    try:
        cli_secrets.rotate(client("secretsmanager"), client("logs"), arn, timeout=60)
    finally:
        new = internal_credential(refresh=True)  # this process's cache: later tests present it
    return new


def test_the_new_credential_works_at_once_the_old_one_for_the_grace_and_not_two_back() -> None:
    first = internal_credential(refresh=True)
    assert refused(first) == NOWHERE
    assert refused("not-the-credential") == EVERYWHERE

    second = rotate()
    assert second != first and len(second) == 48
    # The services hold `first` in memory: `second` makes each read the secret again.
    assert refused(second) == NOWHERE
    assert refused(first) == NOWHERE  # AWSPREVIOUS, within the 15-minute grace

    third = rotate()
    rotated = time.monotonic()
    assert third != second
    # No service is shown `third`: each still holds current `second`, previous `first` from
    # its last read, until that read is 30 s old; then `first` is no version's and refused.
    wait_until(lambda: refused(first) == EVERYWHERE, timeout=60, description="first retired")
    # Each service's snapshot is at most 30 s old when it reads again; the probes' own time
    # (a few requests a round, an audit chain walk) is the margin.
    assert time.monotonic() - rotated <= 30 + 10
    assert refused(third) == NOWHERE
    assert refused(second) == NOWHERE  # now AWSPREVIOUS, in its own grace
