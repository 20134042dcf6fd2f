"""The four steps of a Secrets Manager rotation, shared by every rotation Lambda.

Secrets Manager invokes a rotation function four times per rotation, with the version id of
the new value as `ClientRequestToken`:

- createSecret: generate the new value and store it as AWSPENDING (kept if it exists, so a
  retried rotation resumes with the same value);
- setSecret: make the system that checks the credential accept the pending value, while the
  current one keeps working (Postgres: ALTER ROLE; partners: a grace window);
- testSecret: prove the pending value works there;
- finishSecret: move AWSCURRENT to it (AWSPREVIOUS follows the old one).

A failing step raises, so AWSCURRENT stays where it was; each failure is also logged as one
JSON line with the token (`paylab secrets rotate` reads it from the function's log group).
"""

from __future__ import annotations

import json
import os
import secrets
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
FAILURE_MARK = "paylab-rotation-failed"


class RotationError(Exception):
    """A step could not do its work; AWSCURRENT is left as it was."""


@dataclass(frozen=True)
class Rotation:
    """What differs between kinds of secret: how to make, set and test a new value."""

    generate: Callable[[dict[str, Any]], dict[str, Any]]
    apply: Callable[[dict[str, Any], dict[str, Any]], None]
    test: Callable[[dict[str, Any]], None]


def secretsmanager() -> Any:
    """The Secrets Manager client (AWS_ENDPOINT_URL reaches LocalStack locally)."""
    return boto3.client("secretsmanager")


def random_token(length: int = 48) -> str:
    """Letters and digits only: safe in SQL literals, URLs and headers alike."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def value(sm: Any, arn: str, stage: str, token: str | None = None) -> dict[str, Any] | None:
    """One version's JSON value, or None when it does not exist or has no value yet."""
    kwargs: dict[str, Any] = {"SecretId": arn, "VersionStage": stage}
    if token is not None:
        kwargs["VersionId"] = token
    try:
        raw = sm.get_secret_value(**kwargs).get("SecretString")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    if raw is None:
        return None
    parsed = json.loads(raw)
    if not isinstance(parsed, dict):
        raise RotationError(f"secret {arn} ({stage}) is not a JSON object")
    return parsed


def run(event: dict[str, Any], rotation: Rotation, sm: Any = None) -> None:
    """Validate the event against the secret's versions, then run its step."""
    sm = sm or secretsmanager()
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    try:
        _run(sm, arn, token, step, rotation)
    except Exception as exc:
        report_failure(arn, token, step, exc)
        raise


def report_failure(arn: str, token: str, step: str, exc: BaseException) -> None:
    """One JSON line in the function's log that `paylab secrets rotate` can find by token."""
    line = {
        "mark": FAILURE_MARK,
        "secret": arn,
        "token": token,
        "step": step,
        "error": f"{type(exc).__name__}: {exc}",
    }
    print(json.dumps(line), file=sys.stderr, flush=True)


def _run(sm: Any, arn: str, token: str, step: str, rotation: Rotation) -> None:
    if step not in STEPS:
        raise RotationError(f"unknown step {step!r}")
    stages = sm.describe_secret(SecretId=arn).get("VersionIdsToStages", {})
    if token not in stages:
        raise RotationError(f"secret {arn} has no version {token}")
    if CURRENT in stages[token]:
        return  # this version is already current: the rotation finished before
    if PENDING not in stages[token]:
        raise RotationError(f"version {token} of {arn} is not {PENDING}")
    if step == "createSecret":
        _create(sm, arn, token, rotation)
        return
    pending = value(sm, arn, PENDING, token)
    if pending is None:
        raise RotationError(f"version {token} of {arn} has no value (createSecret did not run)")
    if step == "setSecret":
        rotation.apply(pending, _current(sm, arn))
    elif step == "testSecret":
        rotation.test(pending)
    else:
        _finish(sm, arn, token, stages)


def _current(sm: Any, arn: str) -> dict[str, Any]:
    current = value(sm, arn, CURRENT)
    if current is None:
        raise RotationError(f"secret {arn} has no {CURRENT} value")
    return current


def _create(sm: Any, arn: str, token: str, rotation: Rotation) -> None:
    if value(sm, arn, PENDING, token) is not None:
        return  # a retried rotation keeps the value it already generated (and maybe set)
    new = rotation.generate(_current(sm, arn))
    sm.put_secret_value(
        SecretId=arn,
        ClientRequestToken=token,
        SecretString=json.dumps(new),
        VersionStages=[PENDING],
    )


def _finish(sm: Any, arn: str, token: str, stages: dict[str, list[str]]) -> None:
    move: dict[str, Any] = {"SecretId": arn, "VersionStage": CURRENT, "MoveToVersionId": token}
    old = next((v for v, labels in stages.items() if CURRENT in labels), None)
    if old is not None:
        move["RemoveFromVersionId"] = old
    sm.update_secret_version_stage(**move)
    # Readers fall back to AWSPENDING after an auth failure; once current, it is just noise.
    sm.update_secret_version_stage(SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=token)


def env(name: str) -> str:
    """A required environment variable, with a clear error when the template forgot it."""
    found = os.environ.get(name)
    if not found:
        raise RotationError(f"environment variable {name} is not set")
    return found
