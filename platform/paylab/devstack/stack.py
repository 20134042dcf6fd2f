"""The whole local stack: what `paylab up`, `down` and `status` do."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paylab.core.settings import Settings
from paylab.devstack.errors import StackError
from paylab.devstack.launcher import ForkingManager, Launch, launch
from paylab.devstack.localstack import HostLocalStack
from paylab.devstack.postgres import EmbeddedPostgres
from paylab.devstack.process import ProcessManager
from paylab.devstack.redis_server import EmbeddedRedis
from paylab.devstack.services import SERVICES, HostServices
from paylab.devstack.simulators import (
    SIMULATOR_COMPONENTS,
    SIMULATOR_PROCESS,
    SIMULATORS,
    HostSimulators,
    process_of,
    simulator_url,
)
from paylab.devstack.status import report
from paylab.devstack.workers import MERGED, WORKERS, start_workers

# boto3, SQLAlchemy, Alembic and FastAPI (~0.6 CPU-s of imports) are imported where they are
# used: `paylab up` starts LocalStack, its critical path, before it needs any of them.
if TYPE_CHECKING:
    from paylab.devstack.seed import DemoSeeder

Progress = Callable[[str], None]

# Names other code imports from here; the services, simulators and workers have their modules.
__all__ = ["SERVICES", "SIMULATORS", "SIMULATOR_PROCESS", "WORKERS", "DevStack"]


@dataclass(frozen=True)
class Reset:
    """What `up` empties because the LocalStack it started has no state: the embedded ones."""

    database: bool
    redis: bool


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
        self.simulators = HostSimulators(
            settings.root, self.manager, external=settings.external_simulators
        )

    # -- up ---------------------------------------------------------------------------------

    def up(self, progress: Progress) -> dict[str, str]:
        """Start everything, deploy the template, prepare the databases; returns stack outputs."""
        # LocalStack's start and the deployment are the critical path (one core of LocalStack
        # for ~7 s on a warm start): everything else overlaps with them or with each other.
        # LocalStack keeps no state across restarts (persistence is a LocalStack Pro feature):
        # one that starts now has no event store, queues or executions, so the embedded
        # Postgres and Redis start empty with it, or the two halves would disagree.
        fresh_aws = False
        if self.manages_localstack:
            self.localstack.ensure_environment(progress)
            progress("starting LocalStack, Postgres and Redis")
            fresh_aws = self.localstack.start()
        if not self.settings.database_url:
            self.postgres.start()
        if not self.settings.redis_url:
            self.redis.start()
        # Services connect to nothing before their first request: they boot (forked from one
        # launcher that imports their libraries once) while LocalStack starts and deploys.
        launched = self._launch(progress)
        reset = Reset(
            database=fresh_aws and not self.settings.database_url,
            redis=fresh_aws and not self.settings.redis_url,
        )
        try:
            return self._deploy_and_prepare(progress, launched, reset)
        finally:
            if launched is not None:
                launched.close()

    def _deploy_and_prepare(
        self, progress: Progress, launched: Launch | None, reset: Reset
    ) -> dict[str, str]:
        from paylab.infra.artifacts import publish
        from paylab.infra.deploy import DeploymentError, deploy

        admin_url = self.admin_database_url()
        if reset.database or reset.redis:
            progress("LocalStack starts empty: so do the platform's Postgres schemas and Redis")
        with ThreadPoolExecutor(max_workers=1) as pool:
            models = pool.submit(_load_aws_models, self.settings)
            if not self.settings.redis_url:
                self.redis.wait_ready()
                if reset.redis:
                    self.redis.flush()
            if not self.settings.database_url:
                self.postgres.wait_ready()
            if self.manages_localstack:
                self.localstack.wait_ready()
            if launched is not None:
                launched.wait()
            models.result()
            # Roles, schemas and migrations need Postgres only: they run (Alembic's import
            # included, ~0.6 CPU-s) while LocalStack deploys, which keeps one core busy.
            progress("creating database roles and schemas, running migrations")
            schemas = pool.submit(_prepare_databases, admin_url, reset.database)
            progress("deploying the CloudFormation stack")
            try:
                artifacts = publish(self.settings)
                stack_outputs = deploy(
                    self.settings,
                    progress,
                    parameters=artifacts.parameters(),
                    template_url=artifacts.template_url,
                )
            except DeploymentError as exc:
                raise StackError(f"stack deployment failed: {exc}") from exc
            schemas.result()  # on a failed deployment, leaving the pool waits for it
        from paylab.devstack import database

        database.set_passwords(admin_url, self._db_passwords(stack_outputs))
        # Three strands that touch nothing in common run side by side: SNS confirmations then
        # the workers (they publish), issue 6's secrets (LocalStack and the simulators), and
        # the seeding (the services).
        manager = self.manager if launched is None else ForkingManager(self.manager, launched)
        with ThreadPoolExecutor(max_workers=2) as pool:
            strands = [
                pool.submit(self._start_publishing, manager),
                pool.submit(self._configure_secrets, stack_outputs, progress),
            ]
            self.services.wait_ready(self.available_services())
            self.simulators.wait_ready()
            if (seeder := self.seeder()) is not None:
                progress("seeding the demo merchant and payer wallets")
                seeder.seed()
            for strand in strands:
                strand.result()
        return stack_outputs

    def _start_publishing(self, manager: ProcessManager) -> None:
        """Confirm the SNS subscriptions, then start the workers (the relay publishes)."""
        from paylab.infra.deploy import confirm_pending_subscriptions

        confirm_pending_subscriptions(self.settings)
        start_workers(manager, self.settings.root)

    def _configure_secrets(self, stack_outputs: dict[str, str], progress: Progress) -> None:
        """Issue 6: the admin login, the rotation schedules, the partners' keys and secrets."""
        from paylab.core.aws import client
        from paylab.devstack import database
        from paylab.devstack.simulator_secrets import push_partner_secrets
        from paylab.infra.rotation_schedules import apply_rotation_schedules

        sm = client("secretsmanager", self.settings)
        if database.store_admin_login(
            self.admin_database_url(), stack_outputs["DbAdminSecretArn"], sm
        ):
            progress("stored the Postgres admin login in its secret")
        apply_rotation_schedules(self.settings, progress)
        if self.simulators.available:
            self.simulators.wait_ready()
            push_partner_secrets(stack_outputs, SIMULATORS, progress)

    def _launch(self, progress: Progress) -> Launch | None:
        """Start the simulators and the services whose code exists, forked from one launcher."""
        services = self.available_services()
        if services:
            progress(f"starting services: {', '.join(services)}")
        specs = [*filter(None, [self.simulators.spec()]), *self.services.specs(services)]
        return launch(self.manager, specs, fork=self.settings.prefork)

    def seeder(self) -> DemoSeeder | None:
        """The demo data's seeder, when the services it needs exist."""
        from paylab.devstack.seed import DemoSeeder

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
        """False when AWS_ENDPOINT_URL is set (compose's LocalStack, even on the same port)
        or on AWS."""
        if self.settings.aws_endpoint_url:
            return False
        return self.settings.endpoint_url() == self.localstack.url

    def admin_database_url(self) -> str:
        return self.settings.database_url or self.postgres.admin_url()

    def _db_passwords(self, stack_outputs: dict[str, str]) -> dict[str, str]:
        from paylab.core.secrets import SecretReader
        from paylab.devstack import database

        try:
            return database.service_passwords(stack_outputs, SecretReader())
        except LookupError as exc:
            raise StackError(str(exc)) from None

    def available_services(self) -> dict[str, int]:
        """The services whose code exists (issues add them one by one)."""
        return self.services.available()

    # -- down -------------------------------------------------------------------------------

    def component_names(self) -> list[str]:
        """Every process `up` may start, in the order `down` stops them."""
        sims = [SIMULATOR_PROCESS, *SIMULATOR_COMPONENTS]
        return [*SERVICES, *WORKERS, *MERGED, *sims, "localstack", "redis", "postgres"]

    def log_file(self, name: str) -> Path:
        """The log of component `name`; every `sim-NAME` writes to the simulators' log."""
        return self.manager.log_file(process_of(name))

    def down(self) -> list[str]:
        """Stop every process we started, newest layer first; returns what was stopped."""
        return [name for name in self.component_names() if self.manager.stop(name)]

    # -- status -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What runs, where, whether it is healthy; the stack's outputs and the demo data."""
        return report(self)

    def save_status(self, path: Path) -> None:
        path.write_text(json.dumps(self.status(), indent=2))


def _prepare_databases(admin_url: str, reset: bool) -> None:
    from paylab.devstack import database

    if reset:
        database.reset(admin_url)
    database.prepare(admin_url)


def _load_aws_models(settings: Settings) -> None:
    """Make a client of each service `up` calls, while LocalStack starts."""
    # botocore loads a service's model once per session, on its first client (~0.1 CPU-s for
    # S3): the deployment's first calls no longer wait for it.
    from paylab.core.aws import client

    for service in ("sts", "s3", "cloudformation", "secretsmanager", "sns", "lambda"):
        client(service, settings)
