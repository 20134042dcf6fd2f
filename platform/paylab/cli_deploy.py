"""`paylab deploy`: the platform to AWS (README, "Deploying to AWS")."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from paylab.core.settings import Target

err = Console(stderr=True, log_path=False)
# compute.yaml's SenderEmail pattern: refused here, not half an hour into a deployment.
EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"


def _url(value: str) -> str:
    if not value.startswith("https://"):
        raise typer.BadParameter(f"must be an https:// URL, got {value!r}")
    return value.rstrip("/")


def deploy(
    image: Annotated[
        str,
        typer.Option(envvar="PAYLAB_DEPLOY_IMAGE", help="The platform image in ECR (Dockerfile)."),
    ],
    pse_url: Annotated[
        str, typer.Option(envvar="PAYLAB_DEPLOY_PSE_URL", callback=_url, help="PSE's API.")
    ],
    bank_url: Annotated[
        str,
        typer.Option(envvar="PAYLAB_DEPLOY_BANK_URL", callback=_url, help="The acquirer's API."),
    ],
    antifraud_url: Annotated[
        str,
        typer.Option(
            envvar="PAYLAB_DEPLOY_ANTIFRAUD_URL", callback=_url, help="The antifraud API."
        ),
    ],
    sms_url: Annotated[
        str, typer.Option(envvar="PAYLAB_DEPLOY_SMS_URL", callback=_url, help="The SMS API.")
    ],
    sender_email: Annotated[
        str,
        typer.Option(
            envvar="PAYLAB_DEPLOY_SENDER_EMAIL", help="The SES identity emails come from."
        ),
    ],
    checkout_return_url: Annotated[
        str,
        typer.Option(
            envvar="PAYLAB_DEPLOY_CHECKOUT_RETURN_URL",
            callback=_url,
            help="Where PSE sends payers back when a payment names no return_url.",
        ),
    ],
    desired_count: Annotated[
        int,
        typer.Option(
            envvar="PAYLAB_DEPLOY_DESIRED_COUNT",
            min=1,
            max=20,
            help=(
                "Tasks per service; the floor of the autoscaled ones (a deployment that"
                " keeps it leaves their counts as autoscaling chose them)."
            ),
        ),
    ] = 2,
    max_count: Annotated[
        int,
        typer.Option(
            envvar="PAYLAB_DEPLOY_MAX_COUNT",
            min=1,
            max=50,
            help=(
                "The most tasks each HTTP service scales out to on CPU, each queue"
                " consumer on its queues' depth and the outbox relay on its backlog"
                " (>= --desired-count)."
            ),
        ),
    ] = 6,
    nat_gateways: Annotated[
        int | None,
        typer.Option(
            envvar="PAYLAB_DEPLOY_NAT_GATEWAYS",
            min=1,
            max=2,
            show_default=False,
            help=(
                "NAT gateways for the partners' traffic: 2, one per zone (a zone's outage"
                " leaves the other its partners), or 1 for both (half the cost). Default: 2"
                " for a new stack, what the stack has for an update (a change gives the"
                " partners' calls a new address)."
            ),
        ),
    ] = None,
) -> None:
    """Deploy the platform to AWS (PAYLAB_TARGET=aws): the stack, its compute plane, the
    database bootstrap, then the services. Takes 20-30 minutes the first time."""
    from paylab.cli import _settings  # one line per bad variable, exit 2
    from paylab.infra.aws_deploy import AwsDeployer, Release
    from paylab.infra.deploy import DeploymentError

    settings = _settings()
    if settings.target is not Target.AWS:
        err.print(
            "[bold red]paylab:[/] PAYLAB_TARGET is local: the local stack is deployed by"
            " `./paylab up`; set PAYLAB_TARGET=aws (and AWS credentials) to deploy to AWS"
        )
        raise typer.Exit(2)
    if not re.fullmatch(EMAIL, sender_email):
        err.print(f"[bold red]paylab:[/] --sender-email {sender_email!r} is not an address")
        raise typer.Exit(2)
    if max_count < desired_count:
        err.print(
            f"[bold red]paylab:[/] --max-count {max_count} is below --desired-count {desired_count}"
        )
        raise typer.Exit(2)
    release = Release(
        image=image,
        pse_url=pse_url,
        bank_url=bank_url,
        antifraud_url=antifraud_url,
        sms_url=sms_url,
        sender_email=sender_email,
        checkout_return_url=checkout_return_url,
        desired_count=desired_count,
        max_count=max_count,
        nat_gateways=nat_gateways,
    )
    try:
        with err.status("[bold]deploying to AWS") as status:

            def progress(message: str) -> None:
                status.update(f"[bold]{message}")
                err.log(message, highlight=False)

            outputs = AwsDeployer(settings, progress).run(release)
    except (DeploymentError, ClientError, BotoCoreError) as exc:
        err.print(f"[bold red]paylab:[/] deployment failed: {exc}", highlight=False)
        raise typer.Exit(1) from None
    typer.echo(f"deployed stack {settings.stack_name}; public API: {outputs.get('ApiUrl')}")
    typer.echo(f"calls to the partners come from: {outputs.get('EgressAddresses')}")


def register(app: typer.Typer) -> None:
    """Add `deploy` to the paylab command."""
    app.command()(deploy)
