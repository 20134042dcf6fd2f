"""The internal service credential rotates with the shared-key Lambda: every running service
accepts the new one at once and the one it replaced for the grace (callers cache it), and
a second rotation retires the first within the services' 30 s re-read.

Payments flowing through the gateway and the SAGA's Lambdas while it rotates:
features/secret_rotation.feature (`internal-service-credential`)."""

from __future__ import annotations

import httpx
import pytest

from paylab import cli_secrets
from paylab.core.aws import client
from paylab.core.internal_auth import HEADER, internal_credential
from paylab.core.stack_outputs import output

from ..waiting import wait_until

pytestmark = pytest.mark.timeout(180)

# One internal request per service that changes nothing (an id that does not exist, an
# empty body): a 404 or 422 once the credential is accepted, 401 when it is not (the
# credential is checked before the route looks at anything else).
PROBES = {
    "auth": ("DELETE", "http://127.0.0.1:8001/internal/api-keys/pub_nonexistent"),
    "payment": ("GET", "http://127.0.0.1:8002/internal/payments/pay_nonexistent"),
    "wallet": ("GET", "http://127.0.0.1:8003/internal/holds/nonexistent"),
    "merchant": ("PUT", "http://127.0.0.1:8004/internal/merchants/nonexistent"),
    "audit": ("GET", "http://127.0.0.1:8006/internal/audit/verify"),
}


def answers(key: str) -> dict[str, int]:
    """Each service's status for an internal request carrying `key`."""
    return {
        name: httpx.request(
            method, url, headers={HEADER: key}, content=b"[]", timeout=30.0
        ).status_code
        for name, (method, url) in PROBES.items()
    }


def accepted_everywhere(key: str) -> bool:
    return all(status != 401 for status in answers(key).values())


def refused_everywhere(key: str) -> bool:
    return all(status == 401 for status in answers(key).values())


def rotate() -> str:
    arn = output("InternalServiceCredentialSecretArn")
    try:
        cli_secrets.rotate(client("secretsmanager"), client("logs"), arn, timeout=60)
    finally:
        new = internal_credential(refresh=True)  # this process's cache: later tests present it
    return new


def test_the_new_credential_works_at_once_the_old_one_for_the_grace_and_not_two_back() -> None:
    first = internal_credential(refresh=True)
    baseline = answers(first)
    assert 401 not in baseline.values(), baseline
    assert refused_everywhere("not-the-credential")

    second = rotate()
    assert second != first and len(second) == 48
    # The services hold `first` in memory: `second` makes each read the secret again.
    assert answers(second) == baseline
    assert answers(first) == baseline  # AWSPREVIOUS, within the 15-minute grace

    third = rotate()
    assert third != second
    assert answers(third) == baseline  # every service has read the secret again...
    assert answers(second) == baseline  # ...so `second` is AWSPREVIOUS, still in its grace
    # ...and `first` is no version's any more: refused (at the latest after the 30 s re-read).
    wait_until(lambda: refused_everywhere(first), timeout=45, description="the first retired")
    assert accepted_everywhere(third)
