"""The `paylab` command: start, stop and inspect the local stack, run the tests."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from filelock import FileLock, Timeout
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from paylab.core.settings import Settings, get_settings
from paylab.devstack.errors import StackError
from paylab.devstack.stack import DevStack

# Each subcommand's module, imported when that subcommand runs (or for --help): together they
# cost ~0.6 CPU-s of imports (boto3, SQLAlchemy, ...) that `up` would otherwise pay before it
# starts LocalStack, its critical path.
_SUBCOMMANDS = {
    "sim": "paylab.cli_sim",
    "journal": "paylab.cli_sim",
    "faults": "paylab.cli_sim",
    "secrets": "paylab.cli_secrets",
    "dlq": "paylab.cli_dlq",
    "jobs": "paylab.cli_jobs",
    "payments": "paylab.payment.cli",
    "deploy": "paylab.cli_deploy",
    "outbox": "paylab.cli_outbox",
}


class _LazyGroup(TyperGroup):
    """The `paylab` group: subcommands from `_SUBCOMMANDS` are registered on first use."""

    # Typed loosely: typer 0.29 vendors click, and its Context and Command are private names.
    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*super().list_commands(ctx), *_SUBCOMMANDS})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in _SUBCOMMANDS and cmd_name not in self.commands:
            module = importlib.import_module(_SUBCOMMANDS[cmd_name])
            registered = typer.Typer()
            module.register(registered)
            for name, command in typer.main.get_group(registered).commands.items():
                self.add_command(command, name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="paylab",
    cls=_LazyGroup,
    help="Paylab: the ePayco payments platform on one machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, log_path=False)
out = Console()


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]paylab:[/] {message}", highlight=False)
    return typer.Exit(code)


def _settings() -> Settings:
    """The validated settings, or one line per bad variable and exit 2."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            field = ".".join(str(part) for part in error["loc"])
            variable = _ALIASES.get(field, f"PAYLAB_{field.upper()}")
            console.print(f"[bold red]paylab:[/] invalid {variable}: {error['msg']}")
        raise typer.Exit(2) from None


# Settings read from variables without the PAYLAB_ prefix (their validation aliases).
_ALIASES = {
    name: field.validation_alias
    for name, field in Settings.model_fields.items()
    if isinstance(field.validation_alias, str)
}


@contextmanager
def _clear_errors(settings: Settings) -> Iterator[None]:
    """Known problems become one line and exit 1; a bug leaves its trace in a log file."""
    try:
        yield
    except StackError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except typer.Exit:
        raise
    except Exception as exc:
        log = settings.state_dir / "logs" / "cli.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as handle:
            handle.write(f"--- {time.ctime()} {' '.join(sys.argv)}\n{traceback.format_exc()}\n")
        raise _fail(f"unexpected error: {type(exc).__name__}: {exc} (details in {log})") from None


def _progress(status: Any) -> Callable[[str], None]:
    def report(message: str) -> None:
        status.update(f"[bold]{message}")
        console.log(message, highlight=False)

    return report


@contextmanager
def _one_at_a_time(settings: Settings) -> Iterator[None]:
    """Serialize `up` and `down` across processes: concurrent stack updates corrupt the stack."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(settings.state_dir / "stack.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        console.print("another `paylab up` or `down` is running; waiting for it to finish")
        lock.acquire(timeout=600)
    try:
        yield
    finally:
        lock.release()


def _bring_up(stack: DevStack) -> float:
    started = time.monotonic()
    with console.status("[bold]starting the local stack") as status:
        stack.up(_progress(status))
    return time.monotonic() - started


@app.command()
def up() -> None:
    """Start the local stack: LocalStack, Postgres, Redis, simulators; deploy the AWS resources."""
    settings = _settings()
    with _clear_errors(settings):
        stack = DevStack(settings)
        with _one_at_a_time(settings):
            seconds = _bring_up(stack)
        console.print(f"[bold green]paylab is up[/] in {seconds:.1f} s")
        _print_status(stack.status())


@app.command()
def down() -> None:
    """Stop every process that `paylab up` started."""
    settings = _settings()
    with _clear_errors(settings):
        with _one_at_a_time(settings):
            stopped = DevStack(settings).down()
        if stopped:
            console.print(f"stopped: {', '.join(stopped)}")
        else:
            console.print("nothing was running")


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what runs, where, and whether it is healthy (exit 1 when something is not)."""
    settings = _settings()
    with _clear_errors(settings):
        report = DevStack(settings).status()
        if as_json:
            out.print_json(json.dumps(report))
        else:
            _print_status(report)
        if not report["healthy"]:
            raise typer.Exit(1)


def _print_status(report: dict[str, Any]) -> None:
    table = Table(title="paylab status")
    for column in ("component", "state", "pid", "url", "healthy"):
        table.add_column(column)
    for name, component in report["components"].items():
        table.add_row(
            name,
            component["state"],
            str(component["pid"] or ""),
            component["url"],
            "[green]yes" if component["healthy"] else "[red]no",
        )
    stack = report["stack"]
    table.add_row(
        f"stack {stack['name']}",
        stack["status"],
        "",
        "",
        "[green]yes" if stack["healthy"] else "[red]no",
    )
    out.print(table)
    if demo := report.get("demo"):
        wallets = ", ".join(
            f"{w['account_id']} ({w['available']} {w['currency']})" for w in demo["wallets"]
        )
        out.print(
            f"demo merchant {demo['merchant_id']}: public key {demo['public_key']} "
            f"(private key: ./paylab status --json); payer wallets: {wallets}"
        )


@app.command()
def logs(
    name: Annotated[
        str | None, typer.Argument(help="Component, e.g. localstack; all if omitted.")
    ] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="How many last lines.")] = 40,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
) -> None:
    """Show the logs of the stack's processes."""
    settings = _settings()
    with _clear_errors(settings):
        stack = DevStack(settings)
        names = stack.component_names()
        if name is not None and name not in names:
            raise _fail(f"no component {name!r}; choose one of: {', '.join(names)}")
        # dict.fromkeys: the simulators share one log, shown once.
        files = list(dict.fromkeys(stack.log_file(n) for n in ([name] if name else names)))
        files = [f for f in files if f.exists()]
        if not files:
            raise _fail("no logs yet: run ./paylab up first")
        argv = ["tail", "-n", str(lines), *(["-F"] if follow else []), *map(str, files)]
        raise typer.Exit(subprocess.call(argv))


@app.command(
    name="test", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def run_tests(
    ctx: typer.Context,
    lint: Annotated[bool, typer.Option(help="Run ruff and mypy before the tests.")] = True,
    keep_up: Annotated[
        bool, typer.Option(help="Leave a stack this command started running.")
    ] = False,
) -> None:
    """Run lint, type checks and every test (unit, integration, features, contracts).

    Starts the local stack when it is not running and stops what it started.
    Extra arguments go to pytest, e.g. `./paylab test -k fifo -x`; with them, the
    LocalStack plugin suite (which runs in LocalStack's own environment) is left out.
    """
    settings = _settings()
    with _clear_errors(settings):
        stack = DevStack(settings)
        started = not stack.status()["healthy"]
        failures: list[str] = []
        root = settings.root
        try:
            if started:
                console.print("[bold]the stack is not up: starting it for the tests")
                # In a child `paylab up` that exits: the stack's processes must not be children
                # of this long-running command, or one the tests kill would linger as a zombie.
                if subprocess.call([sys.executable, "-m", "paylab.cli", "up"], cwd=root) != 0:
                    raise _fail("could not start the stack for the tests")
            if lint:
                for label, argv in (
                    ("ruff", [sys.executable, "-m", "ruff", "check", "."]),
                    ("mypy", [sys.executable, "-m", "mypy"]),
                ):
                    console.rule(label)
                    if subprocess.call(argv, cwd=root) != 0:
                        failures.append(label)
            console.rule("pytest")
            env = {**os.environ, "PAYLAB_ROOT": str(root)}
            if subprocess.call([sys.executable, "-m", "pytest", *ctx.args], cwd=root, env=env):
                failures.append("pytest")
            if not ctx.args:
                # Our LocalStack plugins are tested inside LocalStack's own Python 3.13
                # environment, against a LocalStack of their own (port 4610).
                console.rule("LocalStack plugins")
                plugin_tests = [str(stack.localstack.python), "-m", "pytest", "localstack/tests"]
                if subprocess.call(plugin_tests, cwd=root, env=env):
                    failures.append("LocalStack plugin tests")
        finally:
            if started and not keep_up:
                stopped = stack.down()
                console.print(f"stopped what the tests started: {', '.join(stopped)}")
        if failures:
            raise _fail(f"failed: {', '.join(failures)}")
        console.print("[bold green]all green")


@app.command()
def version() -> None:
    """Print Paylab's version."""
    from paylab import __version__

    out.print(__version__)


if __name__ == "__main__":
    app()
