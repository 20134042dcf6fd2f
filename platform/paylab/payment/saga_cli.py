"""`paylab payments saga ID`: read the payment's execution history and print its trace."""

from __future__ import annotations

import json
from typing import Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.table import Table

from paylab.core.aws import client
from paylab.core.stack_outputs import output
from paylab.payment.saga_trace import Trace, execution_arn, fold, history
from paylab.payment.wiring import SAGA_OUTPUT

_MISSING = {"ExecutionDoesNotExist", "InvalidArn", "InvalidName", "ValidationException"}


def show_saga(payment_id: str, *, as_json: bool) -> None:
    """Print the trace (a table, or JSON); exit 1 with a clear line when there is none."""
    try:
        execution = execution_arn(output(SAGA_OUTPUT), payment_id)
        trace = fold(history(client("stepfunctions"), execution))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _MISSING:
            typer.echo(
                f"no SAGA execution for payment {payment_id!r}: an unknown id, a payment "
                "antifraud rejected (it never starts one), or a LocalStack restarted since",
                err=True,
            )
            raise typer.Exit(1) from None
        typer.echo(f"cannot read the SAGA from Step Functions: {exc}", err=True)
        raise typer.Exit(1) from None
    except BotoCoreError as exc:  # LocalStack does not answer
        typer.echo(f"cannot read the SAGA: {exc} (is the stack up? ./paylab status)", err=True)
        raise typer.Exit(1) from None
    except RuntimeError as exc:  # the stack's outputs: its message says what to do
        typer.echo(f"cannot read the SAGA: {exc}", err=True)
        raise typer.Exit(1) from None
    payment = _payment(payment_id)
    if as_json:
        typer.echo(json.dumps({**trace.as_dict(), "payment": payment}, indent=2))
        return
    _print(payment_id, trace, payment)


def _payment(payment_id: str) -> dict[str, Any]:
    """The payment's own state (Postgres), which says what the SAGA's SUCCEEDED meant: a
    compensated SAGA succeeds too. An `error` instead when the database cannot be read."""
    from paylab.core.db import reads, service_engine, session_factory
    from paylab.payment.projection import load_row

    try:
        engine = service_engine("payment", pool_size=1, max_overflow=0)
        try:
            with reads(session_factory(engine)) as session:
                state = load_row(session, payment_id)
        finally:
            engine.dispose()
    except Exception as exc:  # the trace is still worth showing without it
        return {"error": f"cannot read the payment: {exc}"}
    if state is None:
        return {"error": "no such payment in Postgres"}
    return {
        "status": state.status.value,
        "cod_respuesta": state.cod_respuesta,
        "reason": state.outcome_reason,
    }


def _print(payment_id: str, trace: Trace, payment: dict[str, Any]) -> None:
    took = f" in {trace.took_ms:,.1f} ms" if trace.took_ms is not None else ""
    since = f" (started {trace.started.isoformat()})" if trace.started else ""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:  # piped or captured: no terminal to fit, keep rows whole
        console.width = 200
    console.print(f"SAGA of payment {payment_id}: {trace.status}{took}{since}")
    if "error" in payment:
        console.print(f"payment: {payment['error']}")
    else:
        reason = f", reason {payment['reason']}" if payment["reason"] else ""
        console.print(
            f"payment: {payment['status']} (cod_respuesta {payment['cod_respuesta']}){reason}"
        )
    table = Table(box=None, pad_edge=False)
    for column in ("#", "state", "type", "at ms", "took ms", "tries", "outcome"):
        table.add_column(
            column, justify="right" if column.endswith(("ms", "#", "tries")) else "left"
        )
    for number, step in enumerate(trace.steps, 1):
        outcome = step.outcome
        if step.outcome == "caught" and step.next_state:
            outcome = f"caught → {step.next_state}"
        table.add_row(
            str(number),
            step.state,
            step.kind,
            f"{step.at_ms:,.1f}",
            "" if step.took_ms is None else f"{step.took_ms:,.1f}",
            str(step.attempts) if step.attempts else "",
            outcome,
        )
    console.print(table)
    failed = [(n, s) for n, s in enumerate(trace.steps, 1) if s.errors]
    if failed:
        console.print("failed tries:")
    for number, step in failed:
        for first, last, error in _runs(step.errors):
            tries = f"try {first}" if first == last else f"tries {first}-{last}"
            console.print(f"  {number} {step.state}, {tries}: {error}")
    if trace.error:
        console.print(f"execution error: {trace.error}")


def _runs(errors: list[str]) -> list[tuple[int, int, str]]:
    """Consecutive equal errors as (first try, last try, error), tries counted from 1."""
    runs: list[tuple[int, int, str]] = []
    for number, error in enumerate(errors, 1):
        if runs and runs[-1][2] == error:
            runs[-1] = (runs[-1][0], number, error)
        else:
            runs.append((number, number, error))
    return runs
