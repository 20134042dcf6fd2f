"""`paylab payments saga ID`: read the payment's execution history and print its trace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
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

# What a step's answer says in one line (the whole answer with --json).
_SAID = ("released", "reason", "outcome", "status", "cod_respuesta", "result")


@contextmanager
def _step_functions(payment_id: str) -> Iterator[None]:
    """Turn what reading the SAGA can raise into one clear line and exit 1."""
    try:
        yield
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


def show_saga(payment_id: str, *, as_json: bool) -> None:
    """Print the trace (a table, or JSON); exit 1 with a clear line when there is none."""
    with _step_functions(payment_id):
        execution = execution_arn(output(SAGA_OUTPUT), payment_id)
        trace = fold(history(client("stepfunctions"), execution))
    payment = _payment(payment_id)
    if as_json:
        typer.echo(json.dumps({**trace.as_dict(), "payment": payment}, indent=2))
        return
    _print(payment_id, trace, payment)


def compensate_saga(payment_id: str, *, dry_run: bool, as_json: bool, force: bool = False) -> None:
    """Run the rest of a stopped compensation (payment/compensate.py); exit 1 when it cannot
    or a step fails (nothing after that step ran: fix the cause and run it again)."""
    from paylab.core.aws import invoker
    from paylab.payment.compensate import CannotCompensate, StepFailed, plan, run

    with _step_functions(payment_id):
        execution = execution_arn(output(SAGA_OUTPUT), payment_id)
        try:
            found = plan(client("stepfunctions"), execution, payment_id)
        except CannotCompensate as exc:
            typer.echo(f"cannot compensate: {exc}", err=True)
            raise typer.Exit(1) from None
    summary = found.as_dict()
    if not as_json:
        error = f" ({found.execution_error})" if found.execution_error else ""
        typer.echo(
            f"SAGA of payment {payment_id}: {found.execution_status}{error} in "
            f"{found.stopped_in}; final status {summary['final_status'] or 'approved'}"
        )
        typer.echo(f"{'would run' if dry_run else 'running'}: {', '.join(found.steps)}")
    if not force and not dry_run and not _unfinished([payment_id]):
        typer.echo(
            f"cannot compensate: payment {payment_id} already has its outcome "
            f"({_payment(payment_id).get('status', '?')}): nothing is left to finish; "
            "--force runs the steps anyway (each is idempotent)",
            err=True,
        )
        raise typer.Exit(1)
    if dry_run:
        if as_json:
            typer.echo(json.dumps({**summary, "ran": []}, indent=2, default=str))
        return
    try:
        ran = run(found, invoker())
    except StepFailed as exc:
        _print_ran(
            exc.ran, as_json, {**summary, "failed": {"state": exc.state, "error": exc.error}}
        )
        typer.echo(
            f"{exc.state} failed: {exc.error.rstrip('.')}. Nothing after it ran; fix the "
            "cause and run the command again (every step is idempotent).",
            err=True,
        )
        raise typer.Exit(1) from None
    payment = _payment(payment_id)
    _print_ran(ran, as_json, {**summary, "payment": payment})
    if not as_json and "error" not in payment:
        typer.echo(f"payment: {payment['status']} (cod_respuesta {payment['cod_respuesta']})")


def list_stopped(*, as_json: bool) -> None:
    """Print every SAGA that stopped with its payment still pending; exit 1 while any is."""
    from paylab.payment.compensate import stopped_sagas

    with _step_functions("*"):
        found = stopped_sagas(client("stepfunctions"), output(SAGA_OUTPUT), _unfinished)
    for item in found:
        if as_json:
            typer.echo(json.dumps(item.as_dict()))
            continue
        at = item.stopped_at.isoformat() if item.stopped_at else "?"
        if item.plan is not None:
            error = f" ({item.plan.execution_error})" if item.plan.execution_error else ""
            typer.echo(
                f"payment {item.payment_id}: {item.execution_status}{error} at {at} in "
                f"{item.plan.stopped_in}; `paylab payments compensate {item.payment_id}` "
                f"runs {', '.join(item.plan.steps)}"
            )
        else:
            typer.echo(
                f"payment {item.payment_id}: {item.execution_status} at {at}; {item.refusal}"
            )
    if not as_json:
        typer.echo(f"{len(found)} stopped SAGA(s) whose payment has no outcome yet.")
    if found:
        raise typer.Exit(1)


def _unfinished(payment_ids: list[str]) -> set[str]:
    """Which of these payments have no outcome yet in Postgres (pending, or held for review):
    Notify records it last, so a SAGA that stopped before it left the payment so."""
    from sqlalchemy import select

    from paylab.core.db import reads, service_engine, session_factory
    from paylab.payment.models import payments

    engine = service_engine("payment", pool_size=1, max_overflow=0)
    try:
        with reads(session_factory(engine)) as session:
            query = select(payments.c.id).where(
                payments.c.id.in_(payment_ids), payments.c.outcome_status.is_(None)
            )
            return {str(row[0]) for row in session.execute(query)}
    finally:
        engine.dispose()


def _print_ran(ran: list[Any], as_json: bool, summary: dict[str, Any]) -> None:
    if as_json:
        body = {**summary, "ran": [{"state": r.state, "result": r.result} for r in ran]}
        typer.echo(json.dumps(body, indent=2, default=str))
        return
    for step in ran:
        result = step.result if isinstance(step.result, dict) else {"result": step.result}
        said = ", ".join(f"{key} {result[key]}" for key in _SAID if result.get(key) is not None)
        typer.echo(f"  {step.state}: {said or 'done'}")


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
