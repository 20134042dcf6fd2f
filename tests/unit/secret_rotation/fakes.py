"""An in-memory Secrets Manager with versions and stages, enough for rotation logic."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError


def not_found(message: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ResourceNotFoundException", "Message": message}}, "GetSecretValue"
    )


class FakeSecretsManager:
    """One account's secrets: {id: {version: {"value": str | None, "stages": [...]}}}."""

    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, dict[str, Any]]] = {}
        self.reads = 0

    def create(self, name: str, value: str) -> str:
        self.secrets[name] = {str(uuid.uuid4()): {"value": value, "stages": ["AWSCURRENT"]}}
        return name

    def start_rotation(self, name: str) -> str:
        """What RotateSecret does first: an AWSPENDING version without a value."""
        token = str(uuid.uuid4())
        self.secrets[name][token] = {"value": None, "stages": ["AWSPENDING"]}
        return token

    def stage_of(self, name: str, stage: str) -> str | None:
        return next((v for v, d in self.secrets[name].items() if stage in d["stages"]), None)

    def value_at(self, name: str, stage: str) -> str | None:
        version = self.stage_of(name, stage)
        return None if version is None else self.secrets[name][version]["value"]

    # -- the boto3 surface used by the code under test ------------------------------------

    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        versions = self.secrets[SecretId]
        return {
            "ARN": SecretId,
            "Name": SecretId,
            "VersionIdsToStages": {
                v: list(d["stages"]) for v, d in versions.items() if d["stages"]
            },
        }

    def get_secret_value(
        self, SecretId: str, VersionStage: str | None = None, VersionId: str | None = None
    ) -> dict[str, Any]:
        self.reads += 1
        versions = self.secrets.get(SecretId)
        if versions is None:
            raise not_found(SecretId)
        if VersionStage is None and VersionId is None:
            VersionStage = "AWSCURRENT"
        version = VersionId or self.stage_of(SecretId, str(VersionStage))
        if version is None or version not in versions:
            raise not_found(f"{SecretId} {VersionStage}")
        # Like AWS: a version id alone reads that version; with a stage, both must agree.
        if VersionStage is not None and VersionStage not in versions[version]["stages"]:
            raise ClientError({"Error": {"Code": "InvalidRequestException"}}, "GetSecretValue")
        if versions[version]["value"] is None:
            raise not_found(f"{SecretId} {version} has no value")
        return {"SecretString": versions[version]["value"], "VersionId": version}

    def put_secret_value(
        self, SecretId: str, ClientRequestToken: str, SecretString: str, VersionStages: list[str]
    ) -> dict[str, Any]:
        versions = self.secrets[SecretId]
        entry = versions.setdefault(ClientRequestToken, {"value": None, "stages": []})
        entry["value"] = SecretString
        for stage in VersionStages:
            for other in versions.values():
                if stage in other["stages"]:
                    other["stages"].remove(stage)
            entry["stages"].append(stage)
        return {"VersionId": ClientRequestToken}

    def update_secret_version_stage(
        self,
        SecretId: str,
        VersionStage: str,
        MoveToVersionId: str | None = None,
        RemoveFromVersionId: str | None = None,
    ) -> None:
        versions = self.secrets[SecretId]
        if RemoveFromVersionId is not None:
            versions[RemoveFromVersionId]["stages"].remove(VersionStage)
            if VersionStage == "AWSCURRENT":
                for other in versions.values():
                    if "AWSPREVIOUS" in other["stages"]:
                        other["stages"].remove("AWSPREVIOUS")
                versions[RemoveFromVersionId]["stages"].append("AWSPREVIOUS")
        if MoveToVersionId is not None:
            versions[MoveToVersionId]["stages"].append(VersionStage)


class RotatingSecret:
    """GetSecretValue at AWSCURRENT / AWSPREVIOUS over versions a test adds; counts calls."""

    def __init__(self, value: str, created: datetime | None = None) -> None:
        self.versions: list[tuple[str, datetime | None]] = [
            (value, created or datetime.now(UTC) - timedelta(days=40))
        ]
        self.calls = 0

    @property
    def value(self) -> str:
        return self.versions[-1][0]

    def rotate(self, new: str, created: datetime | None = None) -> None:
        """A finished rotation: `new` is AWSCURRENT, the one before AWSPREVIOUS."""
        self.versions.append((new, created or datetime.now(UTC)))

    def get_secret_value(self, SecretId: str, VersionStage: str) -> dict[str, Any]:
        self.calls += 1
        index = {"AWSCURRENT": -1, "AWSPREVIOUS": -2}.get(VersionStage)
        if index is None or len(self.versions) < -index:
            raise not_found(VersionStage)
        value, created = self.versions[index]
        answer: dict[str, Any] = {
            "SecretString": json.dumps({"password": value}),
            "VersionId": f"v{len(self.versions) + index}",
        }
        if created is not None:
            answer["CreatedDate"] = created
        return answer
