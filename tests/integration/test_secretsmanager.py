"""Secrets Manager version stages, as rotation and the cached secret reader rely on them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from .resources import AwsClients


def _stages(aws: AwsClients, secret: str) -> dict[str, set[str]]:
    versions = aws.secretsmanager.list_secret_version_ids(SecretId=secret)["Versions"]
    return {v["VersionId"]: set(v.get("VersionStages", [])) for v in versions}


def _value(aws: AwsClients, secret: str, **selector: str) -> str:
    return str(aws.secretsmanager.get_secret_value(SecretId=secret, **selector)["SecretString"])


def test_rotation_moves_current_pending_and_previous_stages(
    aws: AwsClients, secretsmanager_create_secret: Callable[..., dict[str, Any]]
) -> None:
    v1, v2, v3 = (str(uuid.uuid4()) for _ in range(3))
    secret = secretsmanager_create_secret(SecretString="key-1", ClientRequestToken=v1)["ARN"]
    assert _stages(aws, secret) == {v1: {"AWSCURRENT"}}

    # createSecret step of a rotation: the new value waits as AWSPENDING.
    aws.secretsmanager.put_secret_value(
        SecretId=secret, SecretString="key-2", ClientRequestToken=v2, VersionStages=["AWSPENDING"]
    )
    assert _value(aws, secret) == "key-1", "readers keep the current key during rotation"
    assert _value(aws, secret, VersionStage="AWSPENDING") == "key-2"
    assert _stages(aws, secret) == {v1: {"AWSCURRENT"}, v2: {"AWSPENDING"}}

    # finishSecret step: AWSCURRENT moves; the old version becomes AWSPREVIOUS by itself.
    aws.secretsmanager.update_secret_version_stage(
        SecretId=secret, VersionStage="AWSCURRENT", MoveToVersionId=v2, RemoveFromVersionId=v1
    )
    aws.secretsmanager.update_secret_version_stage(
        SecretId=secret, VersionStage="AWSPENDING", RemoveFromVersionId=v2
    )
    assert _value(aws, secret) == "key-2"
    assert _value(aws, secret, VersionStage="AWSPREVIOUS") == "key-1"
    assert _value(aws, secret, VersionId=v1) == "key-1"
    assert _stages(aws, secret) == {v1: {"AWSPREVIOUS"}, v2: {"AWSCURRENT"}}

    # A plain put becomes AWSCURRENT at once and pushes the others down a stage.
    aws.secretsmanager.put_secret_value(
        SecretId=secret, SecretString="key-3", ClientRequestToken=v3
    )
    assert _value(aws, secret) == "key-3"
    assert _value(aws, secret, VersionStage="AWSPREVIOUS") == "key-2"
    stages = _stages(aws, secret)
    assert stages[v3] == {"AWSCURRENT"}
    assert stages[v2] == {"AWSPREVIOUS"}
    assert not stages.get(v1), "a version with no stage left is deprecated"


def test_put_with_the_same_token_is_idempotent(
    aws: AwsClients, secretsmanager_create_secret: Callable[..., dict[str, Any]]
) -> None:
    # Rotation steps are retried: repeating a put with its token must not add a version.
    secret = secretsmanager_create_secret(SecretString="key-1")["ARN"]
    token = str(uuid.uuid4())
    for _ in range(2):
        aws.secretsmanager.put_secret_value(
            SecretId=secret,
            SecretString="key-2",
            ClientRequestToken=token,
            VersionStages=["AWSPENDING"],
        )
    assert len(_stages(aws, secret)) == 2
    assert _value(aws, secret, VersionStage="AWSPENDING") == "key-2"
