"""The database bootstrap: what `up` does to the local Postgres, done to the stack's server.

On AWS it is the compute plane's `db-bootstrap` task (`python -m paylab.infra.db_bootstrap`),
which `paylab deploy` runs before the services start or roll over: each service's role and
schema, the roles' passwords from the stack's secrets, then the migrations. The server and
the admin login come from the stack's DbAdminSecret (Aurora's master login, to which the
cluster attaches its host and port). Every step is idempotent: a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import psycopg
import typer
from alembic.util import CommandError
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import SQLAlchemyError

from paylab.core.secrets import SecretReader
from paylab.core.settings import Settings, get_settings
from paylab.core.stack_outputs import StackOutputsUnavailable, stack_outputs
from paylab.devstack import database

# Where the AWS image (Dockerfile, stage `aws`) puts Amazon RDS's CA bundle: the tasks'
# DATABASE_URL and this task's --sslrootcert name it (infra/compute.yaml).
RDS_CA_BUNDLE = "/etc/ssl/certs/rds-global-bundle.pem"


def bootstrap_database(
    settings: Settings,
    sslmode: str | None = "require",
    progress: Callable[[str], None] = lambda _: None,
    reader: Any = None,
    sslrootcert: str | None = None,
) -> None:
    """Roles, schemas, passwords and migrations on the server the stack's admin secret names."""
    outputs = stack_outputs(settings, refresh=True)
    reader = reader or SecretReader()
    if "DbAdminSecretArn" not in outputs:
        raise StackOutputsUnavailable("the stack has no output 'DbAdminSecretArn'")
    login = reader.get_json(outputs["DbAdminSecretArn"])
    admin_url = database.admin_url_from_login(login, sslmode, sslrootcert)
    progress("creating the services' roles and schemas, running the migrations")
    database.prepare(admin_url)
    progress("setting the roles' passwords from their secrets")
    database.set_passwords(admin_url, database.service_passwords(outputs, reader))
    progress("the database is ready")


def main(
    sslmode: Annotated[
        str,
        typer.Option(
            help="libpq sslmode for the admin connection ('require' on AWS; the local "
            "Postgres has no TLS: 'disable')."
        ),
    ] = "require",
    sslrootcert: Annotated[
        str,
        typer.Option(
            help="The CA bundle verify-full checks the server against (on AWS the image's"
            " RDS bundle)."
        ),
    ] = "",
) -> None:
    """Bootstrap the stack's database (PAYLAB_STACK_NAME, PAYLAB_TARGET select the stack)."""
    try:
        bootstrap_database(
            get_settings(), sslmode, progress=typer.echo, sslrootcert=sslrootcert or None
        )
    except (
        StackOutputsUnavailable,
        LookupError,
        ValueError,
        psycopg.Error,
        SQLAlchemyError,
        CommandError,  # e.g. an older image than the database's newest migration
        ClientError,
        BotoCoreError,
    ) as exc:
        typer.echo(f"db-bootstrap: {exc}", err=True)
        raise typer.Exit(1) from None


if __name__ == "__main__":
    typer.run(main)
