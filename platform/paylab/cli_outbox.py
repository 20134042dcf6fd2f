"""`paylab outbox`: the events each service has committed and the relay has not yet published.

An event a test or a partner waits for and never sees is either still here (the relay is
behind, or AWS refuses it: `paylab logs outbox-relay` says which destination) or already
published (look at its queue, topic or bus). The same figures the relay reports to CloudWatch
every minute (`core/outbox_backlog.py`), read now, per service.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from paylab.core.db import SERVICES_WITH_DB, service_engine
from paylab.core.outbox_backlog import Backlog, table_backlog
from paylab.core.stack_outputs import StackOutputsUnavailable

out = Console()
err = Console(stderr=True)


def outbox(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Events waiting in each service's outbox, and how long the oldest has waited."""
    from paylab.cli import _settings  # one line per bad variable, exit 2

    _settings()
    found: dict[str, Backlog] = {}
    try:
        for schema in SERVICES_WITH_DB:
            engine = service_engine(schema, pool_size=1, max_overflow=0)
            try:
                found[schema] = table_backlog(engine, f"{schema}.outbox")
            finally:
                engine.dispose()
    except StackOutputsUnavailable as exc:
        _fail(f"{exc}")
    except (BotoCoreError, ClientError, LookupError, ValueError) as exc:
        _fail(f"cannot read the services' database secrets ({exc}); is the stack up?")
    except SQLAlchemyError as exc:
        _fail(f"cannot read the outboxes: {(str(exc).splitlines() or [repr(exc)])[0]}")
    if as_json:
        rows = {s: {"events": b.events, "oldest_s": b.oldest_s} for s, b in found.items()}
        out.print_json(json.dumps(rows))
        return
    table = Table("service", "events waiting", "oldest waited (s)")
    for schema, backlog in found.items():
        table.add_row(schema, str(backlog.events), f"{backlog.oldest_s:.1f}")
    out.print(table)


def _fail(message: str) -> None:
    err.print(f"[bold red]paylab:[/] {message}", highlight=False)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `outbox` to the paylab command."""
    app.command()(outbox)
