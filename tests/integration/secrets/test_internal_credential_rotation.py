"""The internal service credential rotates with its own Lambda: every running service
accepts the new one at once and the one it replaced for the grace (callers cache it), and a
second rotation retires the first within the services' 30 s re-read.

Payments flowing through the gateway and the SAGA's Lambdas while it rotates once and twice:
features/secret_rotation.feature (`internal-service-credential`)."""

from __future__ import annotations

import time

import pytest

from paylab import cli_secrets
from paylab.core.aws import client
from paylab.core.internal_auth import internal_credential
from paylab.core.stack_outputs import output
from paylab.devstack.internal_probes import PROBES
from paylab.devstack.internal_probes import refused_by as refused

from ..waiting import wait_until

pytestmark = pytest.mark.timeout(180)

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
