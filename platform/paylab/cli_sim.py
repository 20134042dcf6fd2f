"""`paylab sim`, `paylab faults` and `paylab journal`: run simulators and drive their /_sim/ API."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.table import Table

from simulators import DEFAULT_PORTS

console = Console()
err = Console(stderr=True)
SimName = Annotated[str, typer.Argument(help="pse, bank, antifraud, sms or merchant")]
UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="Simulator base URL (default: PAYLAB_SIM_<NAME>_URL or loopback)"),
]


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _base_url(name: str, url: str | None) -> str:
    if name not in DEFAULT_PORTS:
        _fail(f"unknown simulator {name!r}; choose one of: {', '.join(DEFAULT_PORTS)}", 2)
    if url:
        return url.rstrip("/")
    env = os.environ.get(f"PAYLAB_SIM_{name.upper()}_URL")
    return (env or f"http://127.0.0.1:{DEFAULT_PORTS[name]}").rstrip("/")


def _call(name: str, url: str | None, method: str, path: str, **kwargs: Any) -> Any:
    base = _base_url(name, url)
    try:
        resp = httpx.request(method, base + path, timeout=10, **kwargs)
    except httpx.ConnectError:
        _fail(
            f"simulator {name} is not running at {base}; start it with `./paylab up` "
            f"or `./paylab sim {name}`"
        )
    except httpx.HTTPError as exc:
        _fail(f"simulator {name} at {base} did not answer: {exc}")
    if resp.status_code >= 400:
        try:
            problem = resp.json()
            detail = problem.get("detail", resp.text)
            fields = "; ".join(f"{e['field']}: {e['message']}" for e in problem.get("errors", []))
        except (ValueError, AttributeError, KeyError, TypeError):
            detail, fields = resp.text, ""
        _fail(f"{name} answered {resp.status_code}: {detail}" + (f" ({fields})" if fields else ""))
    return resp.json() if resp.content else None


def _parse_body_match(items: list[str]) -> dict[str, Any] | None:
    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field:
            _fail(f"--body takes FIELD=VALUE (e.g. card.number=4151*), got {item!r}", 2)
        out[field] = {"true": True, "false": False, "null": None}.get(value, value)
    return out


faults_app = typer.Typer(help="Fault rules of a running simulator.", no_args_is_help=True)


@faults_app.command("add")
def faults_add(
    name: SimName,
    method: Annotated[str | None, typer.Option(help="Match this HTTP method")] = None,
    path: Annotated[str | None, typer.Option(help="Match this path glob, e.g. /v1/*")] = None,
    body: Annotated[
        list[str] | None, typer.Option("--body", help="Match body FIELD=VALUE (repeatable)")
    ] = None,
    error: Annotated[int | None, typer.Option(help="Answer with this HTTP status")] = None,
    latency: Annotated[int | None, typer.Option(help="Delay the answer by MS")] = None,
    jitter: Annotated[int, typer.Option(help="Add up to MS of seeded jitter")] = 0,
    timeout: Annotated[
        bool, typer.Option("--timeout", help="Hold until the client gives up")
    ] = False,
    hold: Annotated[int, typer.Option(help="With --timeout/--reorder: longest hold, MS")] = 60_000,
    reset: Annotated[bool, typer.Option("--reset", help="Reset the TCP connection")] = False,
    malformed: Annotated[bool, typer.Option("--malformed", help="Truncate the body")] = False,
    duplicate: Annotated[int | None, typer.Option(help="Callback: send N extra copies")] = None,
    delay: Annotated[int | None, typer.Option(help="Callback: send after MS")] = None,
    reorder: Annotated[bool, typer.Option("--reorder", help="Callback: after the next")] = False,
    drop: Annotated[bool, typer.Option("--drop", help="Callback: never send")] = False,
    bad_signature: Annotated[
        bool, typer.Option("--bad-signature", help="Callback: sign it wrong")
    ] = False,
    probability: Annotated[float | None, typer.Option(help="Chance per call, 0..1")] = None,
    next_n: Annotated[int | None, typer.Option("--next", help="Only the next N calls")] = None,
    after: Annotated[int | None, typer.Option(help="Skip the first N matching calls")] = None,
    rule_id: Annotated[str | None, typer.Option("--id", help="Rule id (default f1, f2...)")] = None,
    url: UrlOpt = None,
) -> None:
    """Add a fault rule, e.g. `paylab faults add bank --path /v1/authorizations --error 503`."""
    effects: list[dict[str, Any]] = []
    if error is not None:
        effects.append({"type": "error", "status": error})
    if latency is not None:
        effects.append({"type": "latency", "ms": latency, "jitter_ms": jitter})
    if timeout:
        effects.append({"type": "timeout", "hold_ms": hold})
    if reset:
        effects.append({"type": "reset"})
    if malformed:
        effects.append({"type": "malformed"})
    if duplicate is not None:
        effects.append({"type": "duplicate", "copies": duplicate})
    if delay is not None:
        effects.append({"type": "delay", "ms": delay, "jitter_ms": jitter})
    if reorder:
        effects.append({"type": "reorder", "hold_ms": min(hold, 600_000)})
    if drop:
        effects.append({"type": "drop"})
    if bad_signature:
        effects.append({"type": "bad_signature"})
    if len(effects) != 1:
        _fail(
            "give exactly one effect: --error, --latency, --timeout, --reset, --malformed, "
            "--duplicate, --delay, --reorder, --drop or --bad-signature",
            2,
        )
    match = {"method": method, "path": path, "body": _parse_body_match(body or [])}
    when = {"probability": probability, "next": next_n, "after": after}
    rule: dict[str, Any] = {
        "effect": effects[0],
        "match": {k: v for k, v in match.items() if v is not None},
        "when": {k: v for k, v in when.items() if v is not None},
    }
    if rule_id:
        rule["id"] = rule_id
    added = _call(name, url, "POST", "/_sim/faults", json=rule)
    console.print(f"added fault [bold]{added['id']}[/bold] to {name}: {_describe(added)}")


def _describe(rule: dict[str, Any]) -> str:
    effect = {k: v for k, v in rule["effect"].items() if k != "type" and v is not None}
    match = {k: v for k, v in rule["match"].items() if v is not None}
    params = ", ".join(f"{k}={v}" for k, v in effect.items())
    return f"{rule['effect']['type']}({params}) on {json.dumps(match) if match else 'every call'}"


@faults_app.command("list")
def faults_list(name: SimName, url: UrlOpt = None) -> None:
    """Show the fault rules and their counters."""
    rules = _call(name, url, "GET", "/_sim/faults")["faults"]
    if not rules:
        console.print(f"{name}: no fault rules")
        return
    table = Table(title=f"{name} fault rules")
    for col in ("id", "target", "effect", "match", "when", "matched", "applied", "active"):
        table.add_column(col)
    for r in rules:
        when = {k: v for k, v in r["when"].items() if v not in (None, 0, 1.0)}
        table.add_row(
            r["id"],
            r["target"],
            json.dumps(r["effect"]),
            json.dumps({k: v for k, v in r["match"].items() if v is not None}),
            json.dumps(when),
            str(r["matched"]),
            str(r["applied"]),
            "yes" if r["active"] else "no",
        )
    console.print(table)


@faults_app.command("clear")
def faults_clear(
    name: SimName,
    rule_id: Annotated[str | None, typer.Option("--id", help="Remove only this rule")] = None,
    url: UrlOpt = None,
) -> None:
    """Remove every fault rule (or one, with --id)."""
    if rule_id:
        _call(name, url, "DELETE", f"/_sim/faults/{rule_id}")
        console.print(f"removed fault {rule_id} from {name}")
    else:
        removed = _call(name, url, "DELETE", "/_sim/faults")["removed"]
        console.print(f"removed {removed} fault rule(s) from {name}")


def journal(
    name: SimName,
    kind: Annotated[str | None, typer.Option(help="request or callback")] = None,
    method: Annotated[str | None, typer.Option(help="HTTP method")] = None,
    path: Annotated[str | None, typer.Option(help="Path glob")] = None,
    status: Annotated[str | None, typer.Option(help="Status, or class like 5xx")] = None,
    fault: Annotated[str | None, typer.Option(help="any, none, or a rule id")] = None,
    since: Annotated[int, typer.Option(help="Only entries after this seq")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    url: UrlOpt = None,
) -> None:
    """Show a simulator's journal of requests, responses and callbacks (newest first)."""
    params = {"kind": kind, "method": method, "path": path, "status": status, "fault": fault}
    query = {k: v for k, v in params.items() if v is not None}
    query.update(since=str(since), limit=str(limit))
    data = _call(name, url, "GET", "/_sim/journal", params=query)
    if as_json:
        typer.echo(json.dumps(data["entries"], indent=2))
        return
    table = Table(title=f"{name} journal ({data['size']}/{data['capacity']} kept)")
    for col in ("seq", "kind", "method", "path", "status", "ms", "fault", "note"):
        table.add_column(col)
    for e in data["entries"]:
        fault_txt = f"{e['fault']['id']}:{e['fault']['type']}" if e["fault"] else ""
        table.add_row(
            str(e["seq"]),
            e["kind"],
            e["method"],
            e["url"] or e["path"],
            str(e["status"] or "-"),
            f"{e['duration_ms']:.1f}",
            fault_txt,
            e["note"] or "",
        )
    console.print(table)


def sim(
    name: SimName,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: the simulator's own)")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: PAYLAB_SIM_SEED or 0)")] = None,
    state_file: Annotated[Path | None, typer.Option(help="Keep state in this file")] = None,
) -> None:
    """Run one simulator in the foreground (Ctrl-C stops it)."""
    from simulators.__main__ import main

    _base_url(name, None)  # validates the name with a clear message
    argv = [name, "--host", host]
    if port is not None:
        argv += ["--port", str(port)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    if state_file is not None:
        argv += ["--state-file", str(state_file)]
    raise typer.Exit(main(argv))


def register(app: typer.Typer) -> None:
    """Add `sim`, `faults` and `journal` to the paylab command."""
    app.command("sim")(sim)
    app.command("journal")(journal)
    app.add_typer(faults_app, name="faults")
