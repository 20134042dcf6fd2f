"""`paylab status`: each component's process and health, the stack's state and the demo data."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from paylab.devstack.probes import external_ok, http_ok, redact
from paylab.devstack.simulators import (
    SIMULATOR_PROCESS,
    SIMULATORS,
    simulator_healthy,
    simulator_url,
)
from paylab.devstack.workers import WORKERS

if TYPE_CHECKING:
    from paylab.devstack.stack import DevStack


def report(stack: DevStack) -> dict[str, Any]:
    """What runs, where, whether it is healthy; the stack's outputs and the demo data."""
    settings = stack.settings
    components: dict[str, dict[str, Any]] = {
        "localstack": _localstack(stack),
        "postgres": _external_or_managed(
            stack,
            "postgres",
            settings.database_url,
            stack.postgres.healthy,
            f"postgresql://127.0.0.1:{settings.postgres_port}/paylab",
        ),
        "redis": _external_or_managed(
            stack, "redis", settings.redis_url, stack.redis.healthy, stack.redis.url
        ),
    }
    if stack.simulators.available:
        for name in SIMULATORS:
            url = simulator_url(name)
            check = partial(simulator_healthy, url)
            components[f"sim-{name}"] = (
                {"state": "external", "pid": None, "url": url, "healthy": check()}
                if stack.simulators.external
                else _component(stack, SIMULATOR_PROCESS, url, check)
            )
    for name in WORKERS:
        components[name] = _component(stack, name, "", lambda: True)
    for name, port in stack.available_services().items():
        url = f"http://127.0.0.1:{port}"
        components[name] = _component(
            stack,
            name,
            url,
            lambda url=url: http_ok(f"{url}/health"),  # type: ignore[misc]
        )
    cloudformation = (
        _stack_status(stack)
        if components["localstack"]["healthy"]
        else {"name": settings.stack_name, "status": "UNKNOWN", "healthy": False}
    )
    healthy = all(c["healthy"] for c in components.values()) and cloudformation["healthy"]
    result = {"healthy": healthy, "components": components, "stack": cloudformation}
    seeder = stack.seeder()
    if seeder is not None and (demo := seeder.load()) is not None:
        result["demo"] = demo
    return result


def _component(stack: DevStack, name: str, url: str, check: Callable[[], bool]) -> dict[str, Any]:
    proc = stack.manager.running(name)
    return {
        "state": "running" if proc else "stopped",
        "pid": proc.pid if proc else None,
        "url": url,
        "healthy": bool(proc) and check(),
        "log": str(stack.log_file(name)),
    }


def _localstack(stack: DevStack) -> dict[str, Any]:
    if stack.manages_localstack:
        return _component(stack, "localstack", stack.localstack.url, stack.localstack.healthy)
    endpoint = stack.settings.endpoint_url() or "aws"
    return {
        "state": "external",
        "pid": None,
        "url": endpoint,
        "healthy": endpoint == "aws" or http_ok(f"{endpoint}/_localstack/health"),
    }


def _external_or_managed(
    stack: DevStack, name: str, external: str | None, check: Callable[[], bool], url: str
) -> dict[str, Any]:
    if external:
        return {
            "state": "external",
            "pid": None,
            "url": redact(external),
            "healthy": external_ok(name, external),
        }
    return _component(stack, name, url, check)


def _stack_status(stack: DevStack) -> dict[str, Any]:
    # Imported here: `paylab up` starts LocalStack before it needs boto3 (see stack.py).
    from botocore.exceptions import BotoCoreError, ClientError

    from paylab.core.aws import client
    from paylab.infra.deploy import outputs

    name = stack.settings.stack_name
    try:
        cfn = client("cloudformation", stack.settings)
        described = cfn.describe_stacks(StackName=name)["Stacks"][0]
        status = str(described["StackStatus"])
        return {
            "name": name,
            "status": status,
            "healthy": status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"),
            "outputs": outputs(cfn, name),
        }
    except (ClientError, BotoCoreError) as exc:
        return {"name": name, "status": "MISSING", "healthy": False, "error": str(exc)}
