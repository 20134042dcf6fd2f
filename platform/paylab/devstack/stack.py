"""The whole local stack: what `paylab up`, `down` and `status` do."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from paylab.core.aws import client
from paylab.core.db import SERVICES_WITH_DB, db_secret_output
from paylab.core.secrets import SecretReader
from paylab.core.settings import Settings
from paylab.devstack import database
from paylab.devstack.errors import StackError
from paylab.devstack.localstack import HostLocalStack
from paylab.devstack.postgres import EmbeddedPostgres
from paylab.devstack.process import ProcessManager, ProcessSpec, wait_until
from paylab.devstack.redis_server import EmbeddedRedis
from paylab.devstack.seed import DemoSeeder
from paylab.infra.artifacts import publish
from paylab.infra.deploy import (
    DeploymentError,
    confirm_pending_subscriptions,
    deploy,
    outputs,
)

Progress = Callable[[str], None]

# ARCHITECTURE §1: the partner simulators and the services, with their ports.
SIMULATORS = {"pse": 9001, "bank": 9002, "antifraud": 9003, "sms": 9004, "merchant": 9005}
# They share one process (and one log): see docs/decisions.md. `status` still has a
# `sim-NAME` row per simulator, and `logs sim-NAME` shows the shared log.
SIMULATOR_PROCESS = "simulators"
SERVICES = {
    "auth": 8001,
    "payment": 8002,
    "wallet": 8003,
    "merchant": 8004,
    "notification": 8005,
    "audit": 8006,
    "gateway": 8080,
}
# One process for every SQS consumer (notification, audit): see docs/decisions.md.
WORKERS = {"outbox-relay": "paylab.core.outbox_relay", "consumers": "paylab.core.consumer"}


class DevStack:
    """LocalStack, Postgres, Redis and the simulators, run as host processes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        state = settings.state_dir
        self.manager = ProcessManager(state)
        self.localstack = HostLocalStack(
            settings.root, state, settings.localstack_port, self.manager
        )
        self.postgres = EmbeddedPostgres(state, settings.postgres_port, self.manager)
        self.redis = EmbeddedRedis(state, settings.redis_port, self.manager)

    # -- up ---------------------------------------------------------------------------------

    def up(self, progress: Progress) -> dict[str, str]:
        """Start everything, deploy the template, prepare the databases; returns stack outputs."""
        if self.manages_localstack:
            self.localstack.ensure_environment(progress)
            progress("starting LocalStack, Postgres and Redis")
            self.localstack.start()
        if not self.settings.database_url:
            self.postgres.start()
        if not self.settings.redis_url:
            self.redis.start()
        self._start_simulators()
        # Services connect to nothing before their first request: they boot (a few seconds
        # of imports) while LocalStack starts and the stack deploys.
        services = self._start_services(progress)
        if not self.settings.redis_url:
            self.redis.wait_ready()
        if not self.settings.database_url:
            self.postgres.wait_ready()
        if self.manages_localstack:
            self.localstack.wait_ready()
        progress("deploying the CloudFormation stack")
        try:
            artifacts = publish(self.settings)
            stack_outputs = deploy(
                self.settings,
                progress,
                parameters=artifacts.parameters(),
                template_url=artifacts.template_url,
            )
            confirm_pending_subscriptions(self.settings)
        except DeploymentError as exc:
            raise StackError(f"stack deployment failed: {exc}") from exc
        progress("creating database roles and schemas, running migrations")
        admin_url = self.admin_database_url()
        database.bootstrap(admin_url, self._db_passwords(stack_outputs))
        database.migrate(admin_url)
        self._start_workers()
        self._wait_simulators()
        self._configure_secrets(stack_outputs, progress)
        self._wait_services(services)
        if (seeder := self._seeder()) is not None:
            progress("seeding the demo merchant and payer wallets")
            seeder.seed()
        return stack_outputs

    def _configure_secrets(self, stack_outputs: dict[str, str], progress: Progress) -> None:
        """Issue 6: the admin login, the rotation schedules, the partners' keys and secrets."""
        from paylab.devstack.simulator_secrets import push_partner_secrets
        from paylab.infra.rotation_schedules import apply_rotation_schedules

        sm = client("secretsmanager", self.settings)
        if database.store_admin_login(
            self.admin_database_url(), stack_outputs["DbAdminSecretArn"], sm
        ):
            progress("stored the Postgres admin login in its secret")
        apply_rotation_schedules(self.settings, progress)
        if self._simulators_available():
            push_partner_secrets(stack_outputs, SIMULATORS, progress)

    def _seeder(self) -> DemoSeeder | None:
        services = self.available_services()
        if not {"auth", "wallet"} <= services.keys():
            return None
        return DemoSeeder(
            self.settings.state_dir,
            f"http://127.0.0.1:{services['auth']}",
            f"http://127.0.0.1:{services['wallet']}",
            f"http://127.0.0.1:{services['merchant']}" if "merchant" in services else None,
            f"http://127.0.0.1:{SIMULATORS['merchant']}" if self._simulators_available() else None,
        )

    @property
    def manages_localstack(self) -> bool:
        """False when AWS_ENDPOINT_URL points elsewhere (compose's LocalStack) or on AWS."""
        return self.settings.endpoint_url() == self.localstack.url

    def admin_database_url(self) -> str:
        return self.settings.database_url or self.postgres.admin_url()

    def _db_passwords(self, stack_outputs: dict[str, str]) -> dict[str, str]:
        reader = SecretReader()
        passwords = {}
        for service in SERVICES_WITH_DB:
            arn = stack_outputs.get(db_secret_output(service))
            if arn is None:
                raise StackError(f"the stack has no output {db_secret_output(service)}")
            passwords[service] = str(reader.get_json(arn)["password"])
        return passwords

    def _simulators_available(self) -> bool:
        return (self.settings.root / "simulators" / "__main__.py").exists()

    def _start_simulators(self) -> None:
        if not self._simulators_available():
            return
        if self.manager.running(SIMULATOR_PROCESS) is None:
            # A stack started when each simulator had its own process: those hold the ports.
            for name in SIMULATORS:
                self.manager.stop(f"sim-{name}")
        ports = [arg for port in SIMULATORS.values() for arg in ("--port", str(port))]
        self.manager.start(
            ProcessSpec(
                name=SIMULATOR_PROCESS,
                argv=[sys.executable, "-m", "simulators", *SIMULATORS, *ports],
                cwd=self.settings.root,
                ports=tuple(SIMULATORS.values()),
            )
        )

    def available_services(self) -> dict[str, int]:
        """The services whose code exists (issues add them one by one)."""
        package = self.settings.root / "platform" / "paylab"
        return {n: p for n, p in SERVICES.items() if (package / n / "app.py").exists()}

    def _start_services(self, progress: Progress) -> dict[str, int]:
        services = self.available_services()
        if services:
            progress(f"starting services: {', '.join(services)}")
        for name, port in services.items():
            self.manager.start(
                ProcessSpec(
                    name=name,
                    # Each service's app.py has a `create()` factory: nothing connects at import.
                    argv=[
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "--factory",
                        f"paylab.{name}.app:create",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--no-access-log",
                    ],
                    cwd=self.settings.root,
                    port=port,
                )
            )
        return services

    def _wait_services(self, services: dict[str, int]) -> None:
        for name, port in services.items():
            wait_until(
                lambda port=port: _http_ok(f"http://127.0.0.1:{port}/health"),  # type: ignore[misc]
                timeout=60,
                what=f"the {name} service on port {port}",
                alive=lambda name=name: self.manager.check_alive(name),  # type: ignore[misc]
            )

    def _start_workers(self) -> None:
        """Background workers: the outbox relay publishes every service's events."""
        for name, module in WORKERS.items():
            self.manager.start(
                ProcessSpec(name=name, argv=[sys.executable, "-m", module], cwd=self.settings.root)
            )

    def _wait_simulators(self) -> None:
        if not self._simulators_available():
            return
        for name, port in SIMULATORS.items():
            wait_until(
                lambda port=port: _http_ok(f"http://127.0.0.1:{port}/_sim/health"),  # type: ignore[misc]
                timeout=30,
                what=f"the {name} simulator on port {port}",
                alive=lambda: self.manager.check_alive(SIMULATOR_PROCESS),
            )

    # -- down -------------------------------------------------------------------------------

    def component_names(self) -> list[str]:
        """Every process `up` may start, in the order `down` stops them."""
        # The `sim-NAME` names: `logs sim-NAME`, and `down` of a stack started by older code.
        sims = (f"sim-{n}" for n in SIMULATORS)
        return [*SERVICES, *WORKERS, SIMULATOR_PROCESS, *sims, "localstack", "redis", "postgres"]

    def log_file(self, name: str) -> Path:
        """The log of component `name`; every `sim-NAME` writes to the simulators' log."""
        return self.manager.log_file(self._process_of(name))

    @staticmethod
    def _process_of(name: str) -> str:
        sims = {f"sim-{n}" for n in SIMULATORS}
        return SIMULATOR_PROCESS if name in sims else name

    def down(self) -> list[str]:
        """Stop every process we started, newest layer first; returns what was stopped."""
        return [name for name in self.component_names() if self.manager.stop(name)]

    # -- status -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        components: dict[str, dict[str, Any]] = {
            "localstack": self._localstack_status(),
            "postgres": self._external_or_managed(
                "postgres",
                self.settings.database_url,
                self.postgres.healthy,
                f"postgresql://127.0.0.1:{self.settings.postgres_port}/paylab",
            ),
            "redis": self._external_or_managed(
                "redis", self.settings.redis_url, self.redis.healthy, self.redis.url
            ),
        }
        if self._simulators_available():
            for name, port in SIMULATORS.items():
                url = f"http://127.0.0.1:{port}"
                components[f"sim-{name}"] = self._component(
                    SIMULATOR_PROCESS,
                    url,
                    lambda url=url: _http_ok(f"{url}/_sim/health"),  # type: ignore[misc]
                )
        for name in WORKERS:
            components[name] = self._component(name, "", lambda: True)
        for name, port in self.available_services().items():
            url = f"http://127.0.0.1:{port}"
            components[name] = self._component(
                name,
                url,
                lambda url=url: _http_ok(f"{url}/health"),  # type: ignore[misc]
            )
        stack = (
            self._stack_status()
            if components["localstack"]["healthy"]
            else {
                "name": self.settings.stack_name,
                "status": "UNKNOWN",
                "healthy": False,
            }
        )
        healthy = all(c["healthy"] for c in components.values()) and stack["healthy"]
        report = {"healthy": healthy, "components": components, "stack": stack}
        seeder = self._seeder()
        if seeder is not None and (demo := seeder.load()) is not None:
            report["demo"] = demo
        return report

    def _component(self, name: str, url: str, check: Callable[[], bool]) -> dict[str, Any]:
        proc = self.manager.running(name)
        return {
            "state": "running" if proc else "stopped",
            "pid": proc.pid if proc else None,
            "url": url,
            "healthy": bool(proc) and check(),
            "log": str(self.log_file(name)),
        }

    def _localstack_status(self) -> dict[str, Any]:
        if self.manages_localstack:
            return self._component("localstack", self.localstack.url, self.localstack.healthy)
        endpoint = self.settings.endpoint_url() or "aws"
        return {
            "state": "external",
            "pid": None,
            "url": endpoint,
            "healthy": endpoint == "aws" or _http_ok(f"{endpoint}/_localstack/health"),
        }

    def _external_or_managed(
        self, name: str, external: str | None, check: Callable[[], bool], url: str
    ) -> dict[str, Any]:
        if external:
            return {
                "state": "external",
                "pid": None,
                "url": _redact(external),
                "healthy": _external_ok(name, external),
            }
        return self._component(name, url, check)

    def _stack_status(self) -> dict[str, Any]:
        name = self.settings.stack_name
        try:
            cfn = client("cloudformation", self.settings)
            stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
            status = str(stack["StackStatus"])
            return {
                "name": name,
                "status": status,
                "healthy": status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"),
                "outputs": outputs(cfn, name),
            }
        except (ClientError, BotoCoreError) as exc:
            return {"name": name, "status": "MISSING", "healthy": False, "error": str(exc)}

    def save_status(self, path: Path) -> None:
        path.write_text(json.dumps(self.status(), indent=2))


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as its scheme only
        return url.split(":", 1)[0] + "://..."


def _external_ok(kind: str, url: str) -> bool:
    try:
        if kind == "redis":
            import redis

            return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
        import psycopg

        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:  # any failure to reach it means "not healthy"
        return False
