"""The whole local stack: what `paylab up`, `down` and `status` do."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from paylab.core.aws import client
from paylab.core.db import SERVICES_WITH_DB, db_secret_output
from paylab.core.secrets import SecretReader
from paylab.core.settings import Settings
from paylab.devstack import database
from paylab.devstack.errors import StackError
from paylab.devstack.localstack import HostLocalStack
from paylab.devstack.postgres import EmbeddedPostgres
from paylab.devstack.probes import external_ok, http_ok, redact
from paylab.devstack.process import ProcessManager
from paylab.devstack.redis_server import EmbeddedRedis
from paylab.devstack.seed import DemoSeeder
from paylab.devstack.services import SERVICES, HostServices
from paylab.devstack.simulators import (
    SIMULATOR_COMPONENTS,
    SIMULATOR_PROCESS,
    SIMULATORS,
    HostSimulators,
    process_of,
    simulator_healthy,
    simulator_url,
)
from paylab.devstack.workers import WORKERS, start_workers
from paylab.infra.artifacts import publish
from paylab.infra.deploy import (
    DeploymentError,
    confirm_pending_subscriptions,
    deploy,
    outputs,
)

Progress = Callable[[str], None]

# Names other code imports from here; the services, simulators and workers have their modules.
__all__ = ["SERVICES", "SIMULATORS", "SIMULATOR_PROCESS", "WORKERS", "DevStack"]


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
        self.services = HostServices(settings.root, self.manager)
        self.simulators = HostSimulators(settings.root, self.manager)

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
        self.simulators.start()
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
        start_workers(self.manager, self.settings.root)
        self.simulators.wait_ready()
        self._configure_secrets(stack_outputs, progress)
        self.services.wait_ready(services)
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
        if self.simulators.available:
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
            simulator_url("merchant") if self.simulators.available else None,
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

    def available_services(self) -> dict[str, int]:
        """The services whose code exists (issues add them one by one)."""
        return self.services.available()

    def _start_services(self, progress: Progress) -> dict[str, int]:
        services = self.available_services()
        if services:
            progress(f"starting services: {', '.join(services)}")
        self.services.start(services)
        return services

    # -- down -------------------------------------------------------------------------------

    def component_names(self) -> list[str]:
        """Every process `up` may start, in the order `down` stops them."""
        sims = [SIMULATOR_PROCESS, *SIMULATOR_COMPONENTS]
        return [*SERVICES, *WORKERS, *sims, "localstack", "redis", "postgres"]

    def log_file(self, name: str) -> Path:
        """The log of component `name`; every `sim-NAME` writes to the simulators' log."""
        return self.manager.log_file(process_of(name))

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
        if self.simulators.available:
            for name in SIMULATORS:
                url = simulator_url(name)
                check = partial(simulator_healthy, url)
                components[f"sim-{name}"] = self._component(SIMULATOR_PROCESS, url, check)
        for name in WORKERS:
            components[name] = self._component(name, "", lambda: True)
        for name, port in self.available_services().items():
            url = f"http://127.0.0.1:{port}"
            components[name] = self._component(
                name,
                url,
                lambda url=url: http_ok(f"{url}/health"),  # type: ignore[misc]
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
            "healthy": endpoint == "aws" or http_ok(f"{endpoint}/_localstack/health"),
        }

    def _external_or_managed(
        self, name: str, external: str | None, check: Callable[[], bool], url: str
    ) -> dict[str, Any]:
        if external:
            return {
                "state": "external",
                "pid": None,
                "url": redact(external),
                "healthy": external_ok(name, external),
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
