"""The four rotation steps (paylab.lambdas.rotate_base) against an in-memory Secrets Manager."""

from __future__ import annotations

import json
from typing import Any

import pytest

from paylab.lambdas import rotate_base
from paylab.lambdas.rotate_base import Rotation, RotationError, run

from .fakes import FakeSecretsManager

SECRET = "paylab/db/payment"


class Target:
    """The system a credential is checked by: remembers what it accepts."""

    def __init__(self, password: str) -> None:
        self.accepted = {password}
        self.fail_test = False
        self.applied: list[str] = []

    def rotation(self) -> Rotation:
        def generate(current: dict[str, Any]) -> dict[str, Any]:
            return {**current, "password": rotate_base.random_token(20)}

        def apply(pending: dict[str, Any], _current: dict[str, Any]) -> None:
            self.applied.append(pending["password"])
            self.accepted.add(pending["password"])

        def test(pending: dict[str, Any]) -> None:
            if self.fail_test or pending["password"] not in self.accepted:
                raise RotationError("login refused")

        return Rotation(generate, apply, test)


def _rotate(sm: FakeSecretsManager, rotation: Rotation, token: str) -> None:
    for step in rotate_base.STEPS:
        run({"SecretId": SECRET, "ClientRequestToken": token, "Step": step}, rotation, sm)


@pytest.fixture
def sm() -> FakeSecretsManager:
    fake = FakeSecretsManager()
    fake.create(SECRET, json.dumps({"username": "paylab_payment", "password": "old-password"}))
    return fake


def _current(sm: FakeSecretsManager) -> dict[str, Any]:
    value = sm.value_at(SECRET, "AWSCURRENT")
    assert value is not None
    parsed: dict[str, Any] = json.loads(value)
    return parsed


def test_a_rotation_makes_the_new_value_current_and_keeps_the_old_as_previous(
    sm: FakeSecretsManager,
) -> None:
    target = Target("old-password")
    token = sm.start_rotation(SECRET)
    _rotate(sm, target.rotation(), token)
    current = _current(sm)
    assert current["password"] != "old-password"
    assert current["username"] == "paylab_payment"
    assert target.applied == [current["password"]]
    assert sm.stage_of(SECRET, "AWSCURRENT") == token
    assert json.loads(sm.value_at(SECRET, "AWSPREVIOUS") or "{}")["password"] == "old-password"
    assert sm.stage_of(SECRET, "AWSPENDING") is None


def test_a_failing_test_step_leaves_awscurrent_and_is_reported(
    sm: FakeSecretsManager, capsys: pytest.CaptureFixture[str]
) -> None:
    target = Target("old-password")
    target.fail_test = True
    token = sm.start_rotation(SECRET)
    with pytest.raises(RotationError, match="login refused"):
        _rotate(sm, target.rotation(), token)
    assert _current(sm)["password"] == "old-password"
    assert sm.stage_of(SECRET, "AWSPENDING") == token
    logged = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert logged["mark"] == rotate_base.FAILURE_MARK
    assert logged["token"] == token
    assert logged["step"] == "testSecret"
    assert "login refused" in logged["error"]


def test_a_retried_rotation_resumes_with_the_value_already_set(sm: FakeSecretsManager) -> None:
    target = Target("old-password")
    target.fail_test = True
    token = sm.start_rotation(SECRET)
    with pytest.raises(RotationError):
        _rotate(sm, target.rotation(), token)
    first_value = json.loads(sm.value_at(SECRET, "AWSPENDING") or "{}")["password"]
    target.fail_test = False
    _rotate(sm, target.rotation(), token)
    assert _current(sm)["password"] == first_value
    assert target.applied == [first_value, first_value]


def test_two_rotations_in_a_row(sm: FakeSecretsManager) -> None:
    target = Target("old-password")
    seen = {"old-password"}
    for _ in range(2):
        _rotate(sm, target.rotation(), sm.start_rotation(SECRET))
        seen.add(_current(sm)["password"])
    assert len(seen) == 3
    stages = sm.describe_secret(SECRET)["VersionIdsToStages"]
    assert sorted(s for labels in stages.values() for s in labels) == ["AWSCURRENT", "AWSPREVIOUS"]


def test_a_step_for_a_version_already_current_does_nothing(sm: FakeSecretsManager) -> None:
    target = Target("old-password")
    token = sm.start_rotation(SECRET)
    _rotate(sm, target.rotation(), token)
    run(
        {"SecretId": SECRET, "ClientRequestToken": token, "Step": "setSecret"},
        target.rotation(),
        sm,
    )
    assert len(target.applied) == 1


def test_unknown_versions_and_steps_are_refused(sm: FakeSecretsManager) -> None:
    rotation = Target("old-password").rotation()
    with pytest.raises(RotationError, match="no version"):
        run(
            {"SecretId": SECRET, "ClientRequestToken": "nope", "Step": "createSecret"}, rotation, sm
        )
    token = sm.start_rotation(SECRET)
    with pytest.raises(RotationError, match="unknown step"):
        run({"SecretId": SECRET, "ClientRequestToken": token, "Step": "dance"}, rotation, sm)
    with pytest.raises(RotationError, match="createSecret did not run"):
        run({"SecretId": SECRET, "ClientRequestToken": token, "Step": "setSecret"}, rotation, sm)
