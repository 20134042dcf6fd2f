"""Test-side AWS helpers: the client namespace, resource handles, names, stack waits."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from paylab.core.aws import client
from paylab.core.settings import get_settings

from .waiting import wait_until

LAMBDAS = Path(__file__).parent / "lambdas"

# Marks known LocalStack deviations from AWS (as strict xfails, so a fix shows up).
ON_LOCALSTACK = get_settings().endpoint_url() is not None


def unique_name(kind: str) -> str:
    """A name no other test run uses: `paylab-it-<kind>-<8 hex>`."""
    return f"paylab-it-{kind}-{uuid.uuid4().hex[:8]}"


_MISSING = ("NotFound", "NonExistent", "DoesNotExist", "NoSuchEntity")


def ignore_missing(call: Callable[..., Any], **kwargs: Any) -> None:
    # Teardown must not fail because the test (or a parent resource) already deleted it.
    try:
        call(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if not any(part in code for part in _MISSING):
            raise


class AwsClients:
    """`aws.sqs`, `aws.sns`, ...: one client per service, created on first use."""

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        # `lambda` is a keyword: `aws.lambda_`.
        made = client(service.rstrip("_").replace("_", "-"))
        setattr(self, service, made)
        return made


@dataclass(frozen=True)
class Queue:
    name: str
    url: str
    arn: str


def create_role(aws: AwsClients, service: str, actions: list[str]) -> tuple[str, str]:
    name = unique_name("role")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = aws.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    aws.iam.put_role_policy(RoleName=name, PolicyName="test", PolicyDocument=json.dumps(policy))
    return name, str(arn)


def delete_role(aws: AwsClients, name: str) -> None:
    ignore_missing(aws.iam.delete_role_policy, RoleName=name, PolicyName="test")
    ignore_missing(aws.iam.delete_role, RoleName=name)


@dataclass(frozen=True)
class Function:
    name: str
    arn: str


def zip_module(module: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(LAMBDAS / f"{module}.py", arcname=f"{module}.py")
    return buffer.getvalue()


def delete_stack(aws: AwsClients, stack_id: str) -> None:
    """Delete the stack and wait until it is gone; fail if CloudFormation could not."""
    if wait_for_stack(aws, stack_id, timeout=30)["StackStatus"] == "DELETE_COMPLETE":
        return
    aws.cloudformation.delete_stack(StackName=stack_id)
    status = wait_for_stack(aws, stack_id, timeout=30)["StackStatus"]
    assert status == "DELETE_COMPLETE", f"stack {stack_id} ended {status}"


def wait_for_stack(aws: AwsClients, stack_id: str, *, timeout: float) -> dict[str, Any]:
    """The stack once its status no longer ends in _IN_PROGRESS (deleted counts as settled)."""

    def settled() -> dict[str, Any] | None:
        try:
            stacks = aws.cloudformation.describe_stacks(StackName=stack_id)["Stacks"]
        except ClientError as exc:
            if "does not exist" not in str(exc):
                raise
            return {"StackId": stack_id, "StackStatus": "DELETE_COMPLETE"}
        stack: dict[str, Any] = stacks[0]
        return None if stack["StackStatus"].endswith("_IN_PROGRESS") else stack

    return wait_until(settled, timeout=timeout, interval=0.25, description=f"stack {stack_id}")


def delete_api_keys(merchant_ids: list[str]) -> None:
    """Remove test merchants' API keys from auth (auth has no delete-merchant API)."""
    if not merchant_ids:
        return
    from sqlalchemy import text

    from paylab.core.db import service_engine

    engine = service_engine("auth", pool_size=1)
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM auth.api_keys WHERE merchant_id = ANY(:ids)"), {"ids": merchant_ids}
        )
    engine.dispose()
