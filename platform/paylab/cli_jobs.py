"""`paylab jobs list|run`: the scheduled jobs, and time travel (a run at any instant, now)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from paylab.core.job_runs import Delivery, run_job
from paylab.core.jobs import (
    Clients,
    Job,
    JobError,
    UnknownJob,
    UnsupportedTarget,
    find_job,
    list_jobs,
)
from paylab.core.schedules import ScheduleError

console = Console()
err = Console(stderr=True)
BOGOTA = ZoneInfo("America/Bogota")
jobs_app = typer.Typer(
    help="Scheduled jobs: list them, run one as if its time had come "
    "(README: Scheduled jobs and time travel).",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
# Tests replace this with fakes; None means the platform's client factory.
clients: Clients | None = None


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]paylab:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _instant(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"--at {text!r} is not an ISO 8601 instant, e.g. 2026-12-05T00:00-05:00", 2)
    if instant.tzinfo is None:
        _fail(f"--at {text!r} needs an offset or Z, e.g. 2026-12-05T00:00-05:00", 2)
    return instant


def _stamp(instant: datetime | None, zone: ZoneInfo | None = None) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(zone or UTC).isoformat(timespec="minutes")


def _short(stamp: str | None, bound: bool) -> str:
    # The column names the zone; `2026-12-05 00:00` reads better than the offset.
    return f"{'≤ ' if bound else ''}{stamp[:16].replace('T', ' ')}" if stamp else "-"


def _describe(job: Job, now: datetime) -> dict[str, Any]:
    try:
        upcoming = job.next_run(now)
    except ScheduleError as exc:  # a rule AWS accepted and we cannot read: say so, list the rest
        err.print(f"[yellow]paylab:[/] job {job.name}: {exc}", highlight=False)
        upcoming = None
    run, exact = upcoming if upcoming else (None, True)
    return {
        "job": job.name,
        "rule": job.rule,
        "schedule": job.schedule,
        "state": job.state,
        "next_run_utc": _stamp(run),
        "next_run_bogota": _stamp(run, BOGOTA),
        # A rate counts from the rule's creation, which no API tells: the time is a bound.
        "next_run_exact": exact,
        "targets": [
            {"id": t.id, "arn": t.arn, "input": t.input, "input_path": t.input_path}
            for t in job.targets
        ],
    }


@jobs_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Each scheduled job: schedule, state, next run (UTC and Bogota) and target."""
    try:
        jobs = list_jobs(clients)
    except JobError as exc:
        _fail(str(exc))
    now = datetime.now(UTC)
    rows = [_describe(job, now) for job in jobs]
    if as_json:
        console.print_json(json.dumps({"now": _stamp(now), "jobs": rows}))
        return
    if not rows:
        console.print("the stack has no scheduled jobs")
        return
    table = Table(title="scheduled jobs")
    for column in ("job", "schedule", "state", "next run UTC", "next run Bogota", "target"):
        table.add_column(column, overflow="fold")
    for job, row in zip(jobs, rows, strict=True):
        bound = not row["next_run_exact"]
        table.add_row(
            row["job"],
            row["schedule"],
            row["state"],
            _short(row["next_run_utc"], bound),
            _short(row["next_run_bogota"], bound),
            "\n".join(
                f"{t.service}:{t.resource}" + (" (Input)" if t.input is not None else "")
                for t in job.targets
            ),
        )
    console.print(table)
    if any(not row["next_run_exact"] for row in rows):
        console.print("≤: a rate runs every interval from its rule's creation; at the latest then")


@jobs_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="The job, e.g. dispersion (see `jobs list`).")],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="The run's instant, ISO 8601 with an offset or Z "
            "(e.g. 2026-12-05T00:00-05:00); now if omitted.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Deliver the event EventBridge would send the job's targets for a run at --at, now."""
    instant = _instant(at)
    try:
        job = find_job(name, clients)
        deliveries = run_job(job, instant, clients)
    except UnknownJob as exc:
        _fail(str(exc), 2)
    except UnsupportedTarget as exc:
        _fail(str(exc), 2)
    except JobError as exc:
        _fail(str(exc))
    if as_json:
        console.print_json(json.dumps({"job": job.name, "deliveries": _plain(deliveries)}))
    else:
        _print_deliveries(job, instant, deliveries)
    if any(d.failed for d in deliveries):
        raise typer.Exit(1)


def _plain(deliveries: list[Delivery]) -> list[dict[str, Any]]:
    return [
        {"target": d.target.id, "arn": d.target.arn, "event": d.event, "result": d.result}
        for d in deliveries
    ]


def _print_deliveries(job: Job, instant: datetime, deliveries: list[Delivery]) -> None:
    utc = instant.astimezone(UTC)
    console.print(
        f"[bold]{job.name}[/] run for {utc:%Y-%m-%d %H:%M:%S} UTC "
        f"({utc.astimezone(BOGOTA):%Y-%m-%d %H:%M:%S} Bogota), rule {job.rule}",
        highlight=False,
    )
    for d in deliveries:
        console.print(f"→ {d.target.service}:{d.target.resource} received:", highlight=False)
        console.print_json(json.dumps(d.event))
        if d.target.service == "lambda":
            if d.failed:
                err.print(f"[bold red]the function failed ({d.result['function_error']}):[/]")
            else:
                console.print("the function answered:")
            console.print_json(json.dumps(d.result["payload"]))
        else:
            console.print(f"sent, message id {d.result['message_id']}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `jobs` to the paylab command."""
    app.add_typer(jobs_app, name="jobs")
