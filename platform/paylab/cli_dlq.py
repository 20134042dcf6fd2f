"""`paylab dlq list|redrive`: dead letters, through the same Lambda the schedule runs."""

from __future__ import annotations

import json
from typing import Annotated, Any, NoReturn

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from paylab.core.dlq import QUEUES, ReprocessorFailed, invoke_reprocessor
from paylab.core.stack_outputs import StackOutputsUnavailable

console = Console()
err = Console(stderr=True)
dlq_app = typer.Typer(
    help="Dead-letter queues: list what failed, send it back (README: Dead letters).",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
MaxOpt = Annotated[int | None, typer.Option("--max", min=1, help="At most this many messages.")]


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]paylab:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _checked(queue: str | None) -> str | None:
    if queue is not None and queue not in QUEUES:
        _fail(f"unknown queue {queue!r}; choose one of: {', '.join(QUEUES)}", 2)
    return queue


def _invoke(action: str, queue: str | None, max_messages: int | None) -> dict[str, Any]:
    try:
        return invoke_reprocessor(action, queue, max_messages)
    except StackOutputsUnavailable as exc:
        _fail(f"{exc}")
    except ReprocessorFailed as exc:
        _fail(f"the DLQ reprocessor failed: {exc}")
    except (BotoCoreError, ClientError) as exc:
        _fail(f"cannot invoke the DLQ reprocessor: {exc}")


@dlq_app.command("list")
def list_(
    queue: Annotated[
        str | None, typer.Argument(help=f"One of {', '.join(QUEUES)}; all if omitted.")
    ] = None,
    max_messages: MaxOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Messages waiting in each DLQ and parking queue, and every parked message's last error."""
    result = _invoke("list", _checked(queue), max_messages)
    if as_json:
        console.print_json(json.dumps(result))
        return
    counts = Table(title="dead letters")
    for column in ("queue", "DLQ", "DLQ in flight", "parked", "parked in flight"):
        counts.add_column(column)
    for q in result["queues"]:
        counts.add_row(
            q["queue"],
            str(q["dlq"]["available"]),
            str(q["dlq"]["in_flight"]),
            str(q["parking"]["available"]),
            str(q["parking"]["in_flight"]),
        )
    console.print(counts)
    parked = [(q["queue"], m) for q in result["queues"] for m in q["parked"]]
    if not parked:
        console.print("no parked messages")
        return
    table = Table(title="parked messages")
    for column in ("queue", "event id", "type", "group", "attempts", "redrives", "last error"):
        table.add_column(column, overflow="fold")
    for name, m in parked:
        table.add_row(
            name,
            m["event_id"],
            m["type"] or "?",
            m["group"] or "",
            "" if m["attempts"] is None else str(m["attempts"]),
            str(m["redrives"]),
            m["last_error"],
        )
    console.print(table)


@dlq_app.command("redrive")
def redrive(
    queue: Annotated[str, typer.Argument(help=f"One of {', '.join(QUEUES)}.")],
    max_messages: MaxOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send the queue's dead letters back to it now (parking those redriven too often)."""
    result = _invoke("redrive", _checked(queue), max_messages)
    if as_json:
        console.print_json(json.dumps(result))
        return
    for q in result["queues"]:
        console.print(
            f"{q['queue']}: {q['redriven']} sent back to the queue, {q['parked']} parked",
            highlight=False,
        )


@dlq_app.command("unpark")
def unpark(
    queue: Annotated[str, typer.Argument(help=f"One of {', '.join(QUEUES)}.")],
    max_messages: MaxOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Once the cause is fixed: parked messages back to the DLQ (the next redrive takes them)."""
    result = _invoke("unpark", _checked(queue), max_messages)
    if as_json:
        console.print_json(json.dumps(result))
        return
    for q in result["queues"]:
        console.print(f"{q['queue']}: {q['unparked']} moved back to the DLQ", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `dlq` to the paylab command."""
    app.add_typer(dlq_app, name="dlq")
