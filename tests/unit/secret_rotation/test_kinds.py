"""Per-kind rotation logic, the template's schedules and `paylab secrets` helpers (no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from paylab import cli_secrets
from paylab.core.db import SERVICES_WITH_DB, db_secret_output
from paylab.core.partner_keys import PARTNERS, secret_output
from paylab.infra.rotation_schedules import in_place, schedules
from paylab.infra.template import load_template
from paylab.lambdas import rotate_jwt_key, rotate_partner_key
from paylab.lambdas.rotate_base import RotationError
from paylab.lambdas.rotate_postgres import alter_role_sql, scram_verifier

from .fakes import FakeSecretsManager


def test_the_scram_verifier_is_what_postgres_checks_a_login_against() -> None:
    salt = b"0123456789abcdef"
    verifier = scram_verifier("s3cret", salt)
    head, keys = verifier.split("$", 1)[1].split("$")
    iterations, salt_b64 = head.split(":")
    stored, server = keys.split(":")
    assert verifier.startswith("SCRAM-SHA-256$4096:")
    assert base64.b64decode(salt_b64) == salt
    salted = hashlib.pbkdf2_hmac("sha256", b"s3cret", salt, int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    assert base64.b64decode(stored) == hashlib.sha256(client_key).digest()
    assert base64.b64decode(server) == hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert scram_verifier("s3cret") != scram_verifier("s3cret")  # a fresh salt each time


def test_alter_role_never_sends_the_password_and_checks_the_role_name() -> None:
    sql = alter_role_sql("paylab_payment", "PlainPassword123")
    assert sql.startswith('ALTER ROLE "paylab_payment" WITH PASSWORD \'SCRAM-SHA-256$')
    assert "PlainPassword123" not in sql
    for bad in ('x"; DROP ROLE postgres; --', "Upper", ""):
        with pytest.raises(RotationError):
            alter_role_sql(bad, "pw")


def test_partner_keys_keep_the_partner_and_get_a_new_key() -> None:
    new = rotate_partner_key.generate({"partner": "bank", "api_key": "old"})
    assert new["partner"] == "bank"
    assert new["api_key"] != "old"
    assert len(new["api_key"]) == 48
    assert new["api_key"].isalnum()


def test_a_partner_key_secret_must_name_a_known_partner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYLAB_PARTNER_URLS", json.dumps({"bank": "http://127.0.0.1:9002/"}))
    assert rotate_partner_key.partner_url({"partner": "bank"}) == "http://127.0.0.1:9002"
    with pytest.raises(RotationError, match="no known partner"):
        rotate_partner_key.partner_url({"partner": "visa"})


def test_jwt_keys_get_a_new_kid_and_enough_material() -> None:
    new = rotate_jwt_key.generate({"kid": "initial", "key": "x" * 64})
    assert new["kid"] != "initial"
    rotate_jwt_key.test(new)
    with pytest.raises(RotationError):
        rotate_jwt_key.test({"kid": "k", "key": "short"})


def test_every_rotated_secret_has_a_schedule_with_its_kind_of_lambda() -> None:
    template = load_template()
    outputs = template["Outputs"]
    by_secret = {s.secret: s for s in schedules(template)}

    def secret_of(output: str) -> str:
        ref: str = outputs[output]["Value"]["Ref"]
        return ref

    for service in SERVICES_WITH_DB:
        assert by_secret[secret_of(db_secret_output(service))].function == "RotatePostgresFunction"
    for partner in PARTNERS:
        assert by_secret[secret_of(secret_output(partner))].function == "RotatePartnerKeyFunction"
    assert by_secret[secret_of("JwtSigningKeySecretArn")].function == "RotateJwtKeyFunction"
    assert all(s.days > 0 for s in by_secret.values())


def test_a_schedule_is_in_place_only_with_the_same_lambda_and_period() -> None:
    arn = "arn:aws:lambda:us-east-1:1:function:paylab-rotate-postgres"
    found = {"RotationEnabled": True, "RotationLambdaARN": arn}
    assert in_place({**found, "RotationRules": {"AutomaticallyAfterDays": 30}}, arn, 30)
    assert not in_place({**found, "RotationRules": {"AutomaticallyAfterDays": 7}}, arn, 30)
    assert not in_place({"RotationRules": {"AutomaticallyAfterDays": 30}}, arn, 30)


def test_kinds_come_from_the_contract_names() -> None:
    assert cli_secrets.kind_of("paylab/db/payment") == "db"
    assert cli_secrets.kind_of("paylab/db/admin") == "db-admin"
    assert cli_secrets.kind_of("paylab/partners/sms") == "partner-key"
    assert cli_secrets.kind_of("paylab/jwt-signing-key") == "jwt"
    assert cli_secrets.kind_of("paylab/internal-service-credential") == "internal"


class FakeLogs:
    def __init__(self, messages: list[str]) -> None:
        self.messages = messages

    def filter_log_events(self, **_: Any) -> dict[str, Any]:
        return {"events": [{"message": m} for m in self.messages]}


def _failure(token: str) -> str:
    return json.dumps(
        {"mark": cli_secrets.FAILURE_MARK, "token": token, "step": "testSecret", "error": "boom"}
    )


def test_the_failure_of_this_rotation_is_found_in_the_lambda_log() -> None:
    logs = FakeLogs(["START", _failure("other-token"), "[ERROR] x\n" + _failure("t1")])
    assert cli_secrets.failure_in_log(logs, "arn:...:function:f", "t1", 0) == "testSecret: boom"
    assert cli_secrets.failure_in_log(logs, "arn:...:function:f", "t2", 0) is None


class RotatingFake(FakeSecretsManager):
    """RotateSecret runs the steps synchronously (as LocalStack does) with `outcome`."""

    def __init__(self, succeed: bool) -> None:
        super().__init__()
        self.succeed = succeed

    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        return {**super().describe_secret(SecretId), "RotationLambdaARN": "arn:x:function:f"}

    def rotate_secret(self, SecretId: str) -> dict[str, Any]:
        token = self.start_rotation(SecretId)
        self.put_secret_value(SecretId, token, '{"password": "new"}', ["AWSPENDING"])
        if self.succeed:
            self.update_secret_version_stage(
                SecretId, "AWSCURRENT", token, self.stage_of(SecretId, "AWSCURRENT")
            )
        self.last_token = token
        return {"VersionId": token}


def test_rotate_waits_for_the_new_current_version() -> None:
    sm = RotatingFake(succeed=True)
    sm.create("paylab/db/x", '{"password": "old"}')
    done = cli_secrets.rotate(sm, FakeLogs([]), "paylab/db/x", timeout=5)
    assert done.version == sm.stage_of("paylab/db/x", "AWSCURRENT")


def test_rotate_reports_the_lambda_failure_and_leaves_current_alone() -> None:
    sm = RotatingFake(succeed=False)
    sm.create("paylab/db/x", '{"password": "old"}')

    class Logs(FakeLogs):
        def filter_log_events(self, **kw: Any) -> dict[str, Any]:
            self.messages = [_failure(sm.last_token)]
            return super().filter_log_events(**kw)

    with pytest.raises(cli_secrets.RotationFailed, match="testSecret: boom"):
        cli_secrets.rotate(sm, Logs([]), "paylab/db/x", timeout=5)
    assert sm.value_at("paylab/db/x", "AWSCURRENT") == '{"password": "old"}'
