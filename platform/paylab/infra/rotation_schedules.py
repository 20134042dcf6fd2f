"""Apply the template's `AWS::SecretsManager::RotationSchedule` resources through the API.

LocalStack 2026.3's CloudFormation provider for RotationSchedule creates a placeholder and
configures nothing, so after each deployment `paylab up` reads the schedules from the
template and registers any that the secret does not carry yet with RotateSecret
(RotateImmediately=False: registering is not rotating). On AWS CloudFormation has already
done it and every schedule is found in place, so this changes nothing there.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from paylab.core.aws import client
from paylab.core.settings import Settings
from paylab.infra.template import load_template

SCHEDULE_TYPE = "AWS::SecretsManager::RotationSchedule"
# Schedules registered at once: each costs four round trips, and one after the other they
# were ~2 s of every `up`.
PARALLEL = 8


@dataclass(frozen=True)
class Schedule:
    """One RotationSchedule, by the logical ids of its secret and its function."""

    name: str
    secret: str
    function: str
    days: int


def schedules(template: dict[str, Any] | None = None) -> list[Schedule]:
    """The template's rotation schedules (secret by `!Ref`, function by `!GetAtt X.Arn`)."""
    template = template or load_template()
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] != SCHEDULE_TYPE or resource.get("Condition"):
            continue
        props = resource["Properties"]
        found.append(
            Schedule(
                name=name,
                secret=props["SecretId"]["Ref"],
                function=props["RotationLambdaARN"]["Fn::GetAtt"][0],
                days=int(props["RotationRules"]["AutomaticallyAfterDays"]),
            )
        )
    return found


def _physical_ids(cfn: Any, stack: str) -> dict[str, str]:
    ids: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
        for r in page["StackResourceSummaries"]:
            ids[r["LogicalResourceId"]] = r.get("PhysicalResourceId", "")
    return ids


def in_place(description: dict[str, Any], function_arn: str, days: int) -> bool:
    """True when the secret already rotates with `function_arn` every `days` days."""
    rules = description.get("RotationRules") or {}
    return bool(
        description.get("RotationEnabled")
        and description.get("RotationLambdaARN") == function_arn
        and rules.get("AutomaticallyAfterDays") == days
    )


def apply_rotation_schedules(
    settings: Settings,
    progress: Callable[[str], None] = lambda _: None,
    *,
    cfn: Any = None,
    sm: Any = None,
    lam: Any = None,
) -> list[str]:
    """Register every schedule the secrets lack; returns the names of those registered."""
    cfn = cfn or client("cloudformation", settings)
    sm = sm or client("secretsmanager", settings)
    lam = lam or client("lambda", settings)
    ids = _physical_ids(cfn, settings.stack_name)

    def apply(schedule: Schedule) -> str | None:
        secret_arn = ids[schedule.secret]
        function_arn = lam.get_function(FunctionName=ids[schedule.function])["Configuration"][
            "FunctionArn"
        ]
        if in_place(sm.describe_secret(SecretId=secret_arn), function_arn, schedule.days):
            return None
        sm.rotate_secret(
            SecretId=secret_arn,
            RotationLambdaARN=function_arn,
            RotationRules={"AutomaticallyAfterDays": schedule.days},
            RotateImmediately=False,
        )
        if not in_place(sm.describe_secret(SecretId=secret_arn), function_arn, schedule.days):
            raise RuntimeError(f"rotation schedule {schedule.name} did not take effect")
        progress(f"rotation schedule {schedule.name}: every {schedule.days} days")
        return schedule.name

    # Each schedule is its own secret: registering them concurrently changes nothing else.
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        done = list(pool.map(apply, schedules()))
    return [name for name in done if name is not None]
