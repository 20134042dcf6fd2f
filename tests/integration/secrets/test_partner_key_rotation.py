"""A partner key rotates with a grace window; a failed testSecret changes nothing current."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from paylab import cli_secrets
from paylab.core.aws import client
from paylab.core.partner_keys import PartnerKeyAuth
from paylab.core.secrets import SecretReader
from simulators import bank
from simulators.testing import serve

from .conftest import SIM_PORT

pytestmark = pytest.mark.timeout(120)
FIRST_KEY = "FirstKeyOfThisTest0123456789"


@pytest.fixture
def sim() -> Iterator[tuple[str, Any]]:
    app = bank.create_app(seed=3)
    with serve(app, SIM_PORT) as url:
        httpx.put(f"{url}/_sim/api-keys", json={"key": FIRST_KEY}).raise_for_status()
        yield url, app


def _current_key(sm: Any, arn: str) -> str:
    return str(json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])["api_key"])


def test_rotation_with_a_failing_test_step_then_two_good_ones(
    sim: tuple[str, Any],
    partner_rotation_function: str,
    make_secret: Callable[[dict[str, Any]], str],
) -> None:
    url, app = sim
    sm = client("secretsmanager")
    arn = make_secret({"partner": "bank", "api_key": FIRST_KEY})
    auth = PartnerKeyAuth("bank", reader=SecretReader(), secret_id=arn)
    with httpx.Client(base_url=url, auth=auth) as partner:
        assert partner.get("/v1/auth/check").json() == {"key": "current"}

        # testSecret fails: the partner already has the new key, AWSCURRENT keeps the old.
        rule = {"match": {"path": "/v1/auth/check"}, "effect": {"type": "error", "status": 503}}
        httpx.post(f"{url}/_sim/faults", json=rule).raise_for_status()
        sm.rotate_secret(
            SecretId=arn,
            RotationLambdaARN=partner_rotation_function,
            RotationRules={"AutomaticallyAfterDays": 90},
        )
        with pytest.raises(cli_secrets.RotationFailed, match="testSecret"):
            cli_secrets.rotate(sm, client("logs"), arn, timeout=30)
        assert _current_key(sm, arn) == FIRST_KEY
        httpx.delete(f"{url}/_sim/faults").raise_for_status()
        assert partner.get("/v1/auth/check").json() == {"key": "previous"}  # grace window

        # The cause fixed, the same rotation resumes, then one more: both complete.
        seen = {FIRST_KEY}
        for _ in range(2):
            rotated = cli_secrets.rotate(sm, client("logs"), arn, timeout=30)
            key = _current_key(sm, arn)
            assert key not in seen
            seen.add(key)
            assert sm.describe_secret(SecretId=arn)["VersionIdsToStages"][rotated.version] == [
                "AWSCURRENT"
            ]
        # The client still holds the first key (cached): refused now, it reads the new one.
        assert partner.get("/v1/auth/check").json() == {"key": "current"}
        assert app.state.sim.api_keys.check(FIRST_KEY) is None
