"""`paylab secrets list` and `paylab secrets rotate NAME`: the stack's secrets, never their values.

Rotation failures are reported from the rotation Lambda's own log: each failing step logs one
JSON line with the rotation's token (`paylab.lambdas.rotate_base.report_failure`). LocalStack
runs the four steps inside RotateSecret and swallows a failure (the new version just stays
AWSPENDING); AWS runs them after RotateSecret returns. Either way the command waits until
AWSCURRENT moves to the new version, the Lambda logs a failure, or the timeout passes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, NoReturn

import typer
from botocore.exceptions import ClientError
from rich.console import Console
from rich.table import Column, Table

from paylab.core.aws import client
from paylab.core.settings import get_settings

FAILURE_MARK = "paylab-rotation-failed"  # = paylab.lambdas.rotate_base.FAILURE_MARK
console = Console()
err = Console(stderr=True)
secrets_app = typer.Typer(help="The stack's secrets: stages and rotation, never values.")


class RotationFailed(Exception):
    """The rotation did not make a new AWSCURRENT; the message says why."""


@dataclass(frozen=True)
class Rotated:
    """A finished rotation: the version that became current and how long it took."""

    name: str
    version: str
    seconds: float


def kind_of(name: str) -> str:
    """What a secret is for, from its contract name (`<stack>/db/payment` → db)."""
    parts = name.split("/")
    if len(parts) >= 3 and parts[1] == "db":
        return "db-admin" if parts[2] == "admin" else "db"
    if len(parts) >= 3 and parts[1] == "partners":
        return "partner-key"
    if name.endswith("/jwt-signing-key"):
        return "jwt"
    if name.endswith("/internal-service-credential"):
        return "internal"
    if name.endswith("/operator-key"):
        return "operator"
    return "other"


def describe_all(sm: Any, stack: str) -> list[dict[str, Any]]:
    """`list` rows: name, kind, rotation, last rotation, stages (no values)."""
    rows = []
    paginator = sm.get_paginator("list_secrets")
    for page in paginator.paginate(Filters=[{"Key": "name", "Values": [f"{stack}/"]}]):
        for entry in page["SecretList"]:
            name = entry["Name"]
            if not name.startswith(f"{stack}/"):
                continue
            d = sm.describe_secret(SecretId=entry["ARN"])
            stages = sorted(
                s for labels in d.get("VersionIdsToStages", {}).values() for s in labels
            )
            rotated = d.get("LastRotatedDate") if "AWSPREVIOUS" in stages else None
            days = (d.get("RotationRules") or {}).get("AutomaticallyAfterDays")
            rows.append(
                {
                    "name": name,
                    "kind": kind_of(name),
                    "rotation_enabled": bool(d.get("RotationEnabled")),
                    "rotation_days": days,
                    "last_rotated": rotated.isoformat() if isinstance(rotated, datetime) else None,
                    "stages": stages,
                    "rotation_in_progress": _in_progress(d),
                }
            )
    return sorted(rows, key=lambda r: str(r["name"]))


def _in_progress(description: dict[str, Any]) -> bool:
    """AWSPENDING on a version that is not AWSCURRENT: a rotation started and did not finish."""
    return any(
        "AWSPENDING" in labels and "AWSCURRENT" not in labels
        for labels in description.get("VersionIdsToStages", {}).values()
    )


def resolve(sm: Any, stack: str, name: str) -> dict[str, Any]:
    """The secret named `name`, `<stack>/<name>` or by ARN; KeyError when none exists."""
    for candidate in (name, f"{stack}/{name}"):
        try:
            found: dict[str, Any] = sm.describe_secret(SecretId=candidate)
            return found
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
    raise KeyError(name)


def failure_in_log(logs: Any, function_arn: str, token: str, since_ms: int) -> str | None:
    """The Lambda's logged failure for rotation `token`, as `step: error`, if any."""
    group = f"/aws/lambda/{function_arn.rsplit(':', 1)[-1]}"
    try:
        events = logs.filter_log_events(logGroupName=group, startTime=since_ms)["events"]
    except ClientError:
        return None  # no log group yet: the function never ran
    for event in events:
        for line in str(event.get("message", "")).splitlines():
            if FAILURE_MARK not in line or token not in line:
                continue
            try:
                doc = json.loads(line[line.index("{") :])
            except ValueError:
                continue
            return f"{doc.get('step')}: {doc.get('error')}"
    return None


def rotate(sm: Any, logs: Any, secret_id: str, *, timeout: float = 60.0) -> Rotated:
    """Rotate now with the secret's rotation Lambda and wait for the new AWSCURRENT."""
    started = time.monotonic()
    since_ms = int(time.time() * 1000) - 1000
    described = sm.describe_secret(SecretId=secret_id)
    name, function = described["Name"], described.get("RotationLambdaARN")
    if not function:
        raise RotationFailed(f"{name} has no rotation Lambda (see `paylab secrets list`)")
    pending = next(
        (v for v, labels in described.get("VersionIdsToStages", {}).items() if _stuck(labels)),
        None,
    )
    try:
        token = str(sm.rotate_secret(SecretId=secret_id)["VersionId"])
    except ClientError as exc:
        # LocalStack re-runs a stuck rotation on its pending version and reports a second
        # failure this way; the Lambda's log has the reason.
        if pending is None:
            raise RotationFailed(f"{name}: {exc}") from None
        token = pending
    while True:
        stages = sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
        if "AWSCURRENT" in stages.get(token, []):
            return Rotated(name, token, time.monotonic() - started)
        reason = failure_in_log(logs, function, token, since_ms)
        if reason is not None:
            raise RotationFailed(f"{name}: rotation {token} failed at {reason}")
        if time.monotonic() - started > timeout:
            raise RotationFailed(f"{name}: rotation {token} did not finish in {timeout:.0f} s")
        time.sleep(0.5)


def _stuck(labels: list[str]) -> bool:
    return "AWSPENDING" in labels and "AWSCURRENT" not in labels


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


@secrets_app.command("list")
def list_secrets(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every secret of the stack: kind, rotation, last rotation and version stages."""
    settings = get_settings()
    rows = describe_all(client("secretsmanager", settings), settings.stack_name)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("kind", "rotation", "last rotated", "stages")
    table.columns.insert(0, Column("name", no_wrap=True))
    for row in rows:
        rotation = f"every {row['rotation_days']} d" if row["rotation_enabled"] else "off"
        if row["rotation_in_progress"]:
            rotation += " (unfinished)"
        stages = ", ".join(row["stages"])
        last = row["last_rotated"] or "never"
        table.add_row(row["name"], row["kind"], rotation, last, stages)
    console.print(table)


@secrets_app.command("rotate")
def rotate_secret(
    name: Annotated[str, typer.Argument(help="e.g. db/payment, partners/bank, jwt-signing-key")],
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the new version.")] = 60.0,
) -> None:
    """Rotate a secret now and wait until its new version is AWSCURRENT."""
    settings = get_settings()
    sm = client("secretsmanager", settings)
    try:
        arn = resolve(sm, settings.stack_name, name)["ARN"]
        done = rotate(sm, client("logs", settings), arn, timeout=timeout)
    except KeyError:
        _fail(f"no secret {name!r} in stack {settings.stack_name!r}")
    except RotationFailed as exc:
        _fail(f"{exc}; AWSCURRENT is unchanged")
    console.print(f"{done.name}: version {done.version} is AWSCURRENT ({done.seconds:.1f} s)")


@secrets_app.command("operator-key")
def show_operator_key() -> None:
    """Print the operator key (X-Paylab-Ops-Key for the gateway's /v1/ops routes).

    Needs read access to the stack's `operator-key` secret, as anyone operating it has.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from paylab.core.internal_auth import operator_key
    from paylab.core.stack_outputs import StackOutputsUnavailable

    try:
        key = operator_key()
    except StackOutputsUnavailable as exc:
        _fail(str(exc))
    except (BotoCoreError, ClientError) as exc:
        _fail(f"cannot read the operator key: {exc}")
    typer.echo(key)


def register(app: typer.Typer) -> None:
    """Add `secrets list`, `secrets rotate` and `secrets operator-key` to the paylab command."""
    app.add_typer(secrets_app, name="secrets")
