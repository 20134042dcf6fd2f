"""The payment SAGA end to end vs a bare four-Lambda state machine, on the same LocalStack.

    ./paylab up
    .venv/bin/python bench/saga.py [--seconds 20] [--levels 1,8,32] [--sample 20]
    .venv/bin/python bench/saga.py --systems paylab --levels 1,8 --seconds 10   # calls only

For each concurrency level, closed-loop clients run for `--seconds`:

- **bare**: a STANDARD state machine of four trivial Lambda tasks (created here, deleted at
  the end); a client starts an execution and polls DescribeExecution until it has succeeded;
- **paylab**: a client POSTs an approved card payment through the gateway (a fresh merchant,
  a random Luhn-valid card and e-mail per payment, so antifraud's velocity rules and the test
  cards' balances are not touched) and polls the payment service's internal
  `GET /internal/payments/{id}` (no LocalStack call, no gateway rate limit) until it is final.

Both poll on the same schedule (25 ms, x1.5, at most 200 ms). Throughput counts what ended
well (SUCCEEDED / approved) per second of the level; latency is from the start (or the POST)
until the client saw the end. LocalStack calls per payment by API are counted from
`.paylab/logs/localstack.log` (`AWS svc.Op => status` lines) between the start and the end of
each system's run, after the outbox relay has gone quiet, minus the idle rate (per API, the
quieter of 3 s sampled before and 3 s after: the machine is shared); CPU-seconds per run over
the same span, minus idle: LocalStack's own process, its Lambda runtimes (its children), and
the rest of the stack by component (`.paylab/run/*.json` PIDs, Postgres with its backends).
The stack is shared: other work on LocalStack during a run is counted too. Lambda runtime
processes LocalStack started during each system's run are counted too (a cold start costs
~0.25 CPU-s, a warm invocation a few ms).
"Where the time goes" folds the execution histories of a sample of level-1 runs.

Loopback only, bounded in time, prints numbers, asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import threading
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from paylab.core.aws import client as aws_client
from paylab.core.internal_auth import HEADER, internal_credential
from paylab.core.stack_outputs import output

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / ".paylab" / "logs" / "localstack.log"
GATEWAY, AUTH, PAYMENT, WALLET = (
    "http://127.0.0.1:8080",
    "http://127.0.0.1:8001",
    "http://127.0.0.1:8002",
    "http://127.0.0.1:8003",
)
FINAL = {"approved", "rejected", "failed", "reversed", "abandoned", "cancelled"}
HANDLER = "def handler(event, context):\n    return event\n"
POLL_FIRST, POLL_GROWTH, POLL_MAX = 0.025, 1.5, 0.2
RUN_TIMEOUT = 60.0


@dataclass
class Run:
    """One execution or payment as a client saw it."""

    started: float  # wall clock (time.time), to line up with LocalStack's timestamps
    latency: float  # seconds, start → end seen
    ok: bool
    name: str


@dataclass
class Level:
    system: str
    clients: int
    seconds: float
    runs: list[Run] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> list[Run]:
        return [r for r in self.runs if r.ok]

    def rate(self) -> float:
        return len(self.ok) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        lat = sorted(r.latency for r in self.ok)
        if not lat:
            return float("nan")
        return 1000 * lat[min(len(lat) - 1, max(0, round(q * len(lat)) - 1))]


def poll(probe: Callable[[], bool], deadline: float) -> bool:
    """Call `probe` on the shared schedule until it is true or the deadline passes."""
    delay = POLL_FIRST
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(delay)
        delay = min(delay * POLL_GROWTH, POLL_MAX)
    return False


def run_level(system: str, clients: int, seconds: float, one: Callable[[], Run]) -> Level:
    """`clients` closed-loop threads calling `one` until `seconds` have passed."""
    level = Level(system, clients, seconds)
    lock = threading.Lock()
    start = time.monotonic()
    stop_at = start + seconds

    def worker() -> None:
        while time.monotonic() < stop_at:
            try:
                run = one()
            except Exception as exc:
                with lock:
                    level.errors[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                continue
            with lock:
                level.runs.append(run)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + RUN_TIMEOUT + 5)
    level.seconds = time.monotonic() - start
    return level


# ------------------------------------------------------------------------------- the bare machine
class Bare:
    """A STANDARD state machine of four pass-through Lambda tasks, created and deleted here."""

    def __init__(self) -> None:
        self.suffix = uuid.uuid4().hex[:8]
        self.iam = aws_client("iam")
        self.lam = aws_client("lambda")
        self.sfn = aws_client("stepfunctions")
        self.role = f"paylab-bench-{self.suffix}"
        self.function = f"paylab-bench-{self.suffix}"
        self.machine_arn = ""

    def create(self) -> None:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role_arn = self.iam.create_role(
            RoleName=self.role, AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("bench_handler.py", HANDLER)
        fn_arn = self.lam.create_function(
            FunctionName=self.function,
            Runtime="python3.11",
            Role=role_arn,
            Handler="bench_handler.handler",
            Code={"ZipFile": buf.getvalue()},
            Timeout=10,
            MemorySize=128,
        )["FunctionArn"]
        poll(
            lambda: (
                self.lam.get_function_configuration(FunctionName=self.function)["State"]
                != "Pending"
            ),
            time.monotonic() + 30,
        )
        names = ["Step1", "Step2", "Step3", "Step4"]
        states = {
            n: {
                "Type": "Task",
                "Resource": fn_arn,
                **({"Next": names[i + 1]} if i < 3 else {"End": True}),
            }
            for i, n in enumerate(names)
        }
        self.machine_arn = self.sfn.create_state_machine(
            name=f"paylab-bench-{self.suffix}",
            definition=json.dumps({"StartAt": "Step1", "States": states}),
            roleArn=role_arn,
            type="STANDARD",
        )["stateMachineArn"]

    def one(self) -> Run:
        sfn = self.sfn
        wall, t0 = time.time(), time.perf_counter()
        arn = sfn.start_execution(stateMachineArn=self.machine_arn, input='{"n": 1}')[
            "executionArn"
        ]
        seen: dict[str, str] = {}

        def done() -> bool:
            seen["status"] = sfn.describe_execution(executionArn=arn)["status"]
            return seen["status"] != "RUNNING"

        poll(done, time.monotonic() + RUN_TIMEOUT)
        return Run(wall, time.perf_counter() - t0, seen.get("status") == "SUCCEEDED", arn)

    def delete(self) -> None:
        cleanups: list[Callable[[], Any]] = [
            lambda: self.sfn.delete_state_machine(stateMachineArn=self.machine_arn),
            lambda: self.lam.delete_function(FunctionName=self.function),
            lambda: self.iam.delete_role(RoleName=self.role),
        ]
        for call in cleanups:
            try:
                call()
            except Exception as exc:
                print(f"cleanup: {exc}", file=sys.stderr)


# ------------------------------------------------------------------------------- Paylab
def luhn_card(prefix: str = "4000") -> str:
    """A random 16-digit card number that passes Luhn (an ordinary card at the bank sim)."""
    digits = [int(c) for c in prefix] + [random.randrange(10) for _ in range(15 - len(prefix))]
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


class Paylab:
    """A fresh merchant charging random cards through the gateway."""

    def __init__(self) -> None:
        self.merchant_id = f"bench-{uuid.uuid4().hex[:10]}"
        self.internal = {HEADER: internal_credential()}
        self.token = ""
        self.local = threading.local()

    def create(self) -> None:
        with httpx.Client(headers=self.internal, timeout=10.0) as http:
            keys = http.post(f"{AUTH}/internal/merchants/{self.merchant_id}/api-keys")
            keys.raise_for_status()
            http.post(
                f"{WALLET}/internal/accounts",
                json={"merchant_id": self.merchant_id, "currency": "COP"},
            ).raise_for_status()
        pair = keys.json()
        login = httpx.post(
            f"{GATEWAY}/v1/auth/login",
            json={"public_key": pair["public_key"], "private_key": pair["private_key"]},
            timeout=10.0,
        )
        login.raise_for_status()
        self.token = login.json()["bearer_token"]

    def _clients(self) -> tuple[httpx.Client, httpx.Client]:
        if not hasattr(self.local, "gw"):
            self.local.gw = httpx.Client(
                base_url=GATEWAY, headers={"Authorization": f"Bearer {self.token}"}, timeout=30.0
            )
            self.local.pay = httpx.Client(base_url=PAYMENT, headers=self.internal, timeout=30.0)
        return self.local.gw, self.local.pay

    def one(self) -> Run:
        gw, pay = self._clients()
        ref = uuid.uuid4().hex[:16]
        body = {
            "amount": "1000.00",
            "currency": "COP",
            "method": "card",
            "reference": f"bench-{ref}",
            "description": "bench",
            "customer": {
                "email": f"b{ref}@example.com",
                "name": "Bench",
                "doc_type": "CC",
                "doc_number": "1012345678",
            },
            "card": {"number": luhn_card(), "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
        wall, t0 = time.time(), time.perf_counter()
        r = gw.post("/v1/payments", json=body, headers={"Idempotency-Key": ref})
        if r.status_code != 201:
            raise RuntimeError(f"POST {r.status_code} {r.text[:60]}")
        payment_id = r.json()["id"]
        seen: dict[str, str] = {}

        def done() -> bool:
            got = pay.get(f"/internal/payments/{payment_id}")
            seen["status"] = got.json().get("status", "") if got.status_code == 200 else ""
            return seen["status"] in FINAL

        poll(done, time.monotonic() + RUN_TIMEOUT)
        return Run(wall, time.perf_counter() - t0, seen.get("status") == "approved", payment_id)


# ------------------------------------------------------------------------------- LocalStack's log
def log_offset() -> int:
    return LOG.stat().st_size


def settle(quiet: float = 1.5, limit: float = 20.0) -> int:
    """Wait (bounded) until the log stops growing: the relay's publishes are counted too."""
    end = time.monotonic() + limit
    size, since = log_offset(), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.25)
        now = log_offset()
        if now != size:
            size, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return size


def calls_between(start: int, end: int) -> Counter[str]:
    """`svc.Operation` → count of LocalStack requests logged between two offsets."""
    with LOG.open("rb") as f:
        f.seek(start)
        chunk = f.read(end - start).decode(errors="replace")
    out: Counter[str] = Counter()
    for line in chunk.splitlines():
        marker = line.find(" AWS ")
        if marker >= 0 and "=>" in line:
            out[line[marker + 5 :].split(" =>", 1)[0].strip()] += 1
    return out


def idle_rate(seconds: float = 3.0) -> tuple[Counter[str], dict[str, float]]:
    """Calls (a count over `seconds`) and CPU-seconds with nobody paying (polls and the like)."""
    start, cpu0 = log_offset(), cpu_sample()
    time.sleep(seconds)
    return calls_between(start, log_offset()), cpu_since(cpu0)


def quietest(
    a: tuple[Counter[str], dict[str, float]], b: tuple[Counter[str], dict[str, float]]
) -> tuple[Counter[str], dict[str, float]]:
    """The smaller of two idle samples, item by item: someone else's burst in one is not idle."""
    calls = Counter({op: min(a[0][op], b[0][op]) for op in a[0].keys() | b[0].keys()})
    cpu = {k: min(a[1].get(k, 0.0), b[1].get(k, 0.0)) for k in a[1].keys() | b[1].keys()}
    return calls, cpu


# ------------------------------------------------------------------------------- CPU
def _cpu(proc: psutil.Process, children: bool = False) -> float:
    """CPU-seconds of `proc`; with `children`, those of its reaped children instead."""
    t = proc.cpu_times()
    return t.children_user + t.children_system if children else t.user + t.system


CPU_PARTS = ("localstack", "lambda runtimes", "rest of the stack")


def cpu_sample() -> dict[str, float]:
    """Cumulative CPU-seconds by stack component (`.paylab/run/*.json`), children included.

    LocalStack's children are its Lambda runtimes (their own entry); Postgres's are its backends.
    Reaped children are in children_*, live ones are summed: a delta counts each once.
    """
    out: dict[str, float] = {"lambda runtimes": 0.0}
    for path in sorted((ROOT / ".paylab" / "run").glob("*.json")):
        try:
            proc = psutil.Process(int(json.loads(path.read_text())["pid"]))
            kids = _cpu(proc, children=True) + sum(_cpu(c) for c in proc.children(recursive=True))
        except (psutil.Error, OSError, ValueError, KeyError):
            continue  # a process that just exited or a stale PID file
        out[path.stem] = _cpu(proc) + (0.0 if path.stem == "localstack" else kids)
        if path.stem == "localstack":
            out["lambda runtimes"] += kids
    return out


def cpu_since(before: dict[str, float]) -> dict[str, float]:
    """CPU-seconds used since `before` (a cpu_sample), by component."""
    now = cpu_sample()
    return {name: now[name] - before.get(name, 0.0) for name in now}


class SpawnCounter:
    """Counts Lambda runtime processes LocalStack starts while it runs (sampled every 0.2 s).

    A runtime that starts costs its interpreter, boto3's import and a GetSecretValue (~0.25
    CPU-s); warm ones cost a few ms per invocation. Spawns per run say which one was paid.
    """

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        try:
            pid = int(json.loads((ROOT / ".paylab" / "run" / "localstack.json").read_text())["pid"])
            self._parent: psutil.Process | None = psutil.Process(pid)
            self._known = {c.pid for c in self._parent.children()}
        except (psutil.Error, OSError, ValueError, KeyError):
            self._parent, self._known = None, set()

    def _run(self) -> None:
        while self._parent is not None and not self._stop.wait(0.2):
            try:
                self.seen |= {c.pid for c in self._parent.children()} - self._known
            except psutil.Error:
                return

    def __enter__(self) -> SpawnCounter:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


# ------------------------------------------------------------------------------- where time goes
def state_durations(sfn: Any, arns: list[str]) -> dict[str, list[float]]:
    """State name → durations (ms) from TaskStateEntered to TaskStateExited."""
    out: dict[str, list[float]] = {}
    for arn in arns:
        entered: dict[str, Any] = {}
        for e in sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]:
            if e["type"].endswith("StateEntered"):
                entered[e["stateEnteredEventDetails"]["name"]] = e["timestamp"]
            elif e["type"].endswith("StateExited"):
                name = e["stateExitedEventDetails"]["name"]
                if name in entered:
                    ms = (e["timestamp"] - entered.pop(name)).total_seconds() * 1000
                    out.setdefault(name, []).append(ms)
    return out


def execution_edges(
    sfn: Any, runs: list[Run], arn_of: Callable[[Run], str]
) -> dict[str, list[float]]:
    """Client start → execution start, execution run time, execution end → client saw it."""
    out: dict[str, list[float]] = {"start→execution": [], "execution": [], "end→seen": []}
    for run in runs:
        d = sfn.describe_execution(executionArn=arn_of(run))
        begin, stop = d["startDate"].timestamp(), d["stopDate"].timestamp()
        out["start→execution"].append((begin - run.started) * 1000)
        out["execution"].append((stop - begin) * 1000)
        out["end→seen"].append((run.started + run.latency - stop) * 1000)
    return out


def show_durations(title: str, durations: dict[str, list[float]]) -> None:
    print(f"  {title}")
    for name, values in durations.items():
        if values:
            print(
                f"    {name:<24} median {statistics.median(values):7.1f} ms"
                f"   mean {statistics.fmean(values):7.1f} ms   n={len(values)}"
            )


# ------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per level and system")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds, per system")
    parser.add_argument("--levels", default="1,8,32", help="concurrent clients, comma-separated")
    parser.add_argument("--sample", type=int, default=20, help="level-1 runs to break down")
    parser.add_argument("--systems", default="bare,paylab", help="bare, paylab or both")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    systems = [s for s in ("bare", "paylab") if s in args.systems.split(",")]
    sfn = aws_client("stepfunctions")
    saga_arn = output("PaymentSagaStateMachineArn") if "paylab" in systems else ""

    idle_s = 3.0
    idle_before = idle_rate(idle_s)
    bare = Bare()
    results: list[Level] = []
    calls: dict[str, tuple[Counter[str], int, float]] = {}
    cpu: dict[str, dict[str, float]] = {}
    spawns: dict[str, int] = {}
    try:
        chosen: dict[str, Callable[[], Run]] = {}
        if "bare" in systems:
            bare.create()
            chosen["bare"] = bare.one
        if "paylab" in systems:
            paylab = Paylab()  # reads the internal credential: needs the deployed stack
            paylab.create()
            chosen["paylab"] = paylab.one
        for system, one in chosen.items():
            # Warm-up at the highest level, not measured: Lambda runtimes (a cold start costs
            # ~0.25 CPU-s), connection pools, caches. Measured levels then run on warm runtimes.
            run_level(system, max(levels), args.warmup, one)
            start, t0 = settle(quiet=1.0, limit=10.0), time.monotonic()
            cpu[system] = cpu_sample()
            with SpawnCounter() as counter:
                for clients in levels:
                    level = run_level(system, clients, args.seconds, one)
                    results.append(level)
                    print(
                        f"{system:>6} {clients:>3} clients: {len(level.ok)} ok, "
                        f"{len(level.runs) - len(level.ok)} not ok, "
                        f"{sum(level.errors.values())} errors in {level.seconds:.1f} s",
                        file=sys.stderr,
                    )
                end = settle()
            cpu[system] = cpu_since(cpu[system])
            done = sum(len(lv.runs) for lv in results if lv.system == system)
            spawns[system] = len(counter.seen)
            calls[system] = (calls_between(start, end), done, time.monotonic() - t0)
        idle, idle_cpu = quietest(idle_before, idle_rate(idle_s))
        report(results, calls, idle, idle_s, levels, args.sample, sfn, saga_arn)
        report_cpu(cpu, calls, idle_cpu, idle_s, spawns)
    finally:
        if "bare" in systems:
            bare.delete()
    return 0


def report_cpu(
    cpu: dict[str, dict[str, float]],
    calls: dict[str, tuple[Counter[str], int, float]],
    idle_cpu: dict[str, float],
    idle_s: float,
    spawns: dict[str, int],
) -> None:
    """CPU-seconds per run by component, idle background subtracted; runtime starts per run."""
    print("\n== CPU-seconds per run (idle background subtracted)")
    for system, used in cpu.items():
        _, done, elapsed = calls[system]
        net = {
            name: max(value - idle_cpu.get(name, 0.0) / idle_s * elapsed, 0.0) / max(done, 1)
            for name, value in used.items()
        }
        rest = {k: v for k, v in net.items() if k not in CPU_PARTS}
        headline = {**{k: net.get(k, 0.0) for k in CPU_PARTS[:2]}, CPU_PARTS[2]: sum(rest.values())}
        print(f"  {system}: " + ", ".join(f"{k} {v:.3f}" for k, v in headline.items()))
        started = spawns.get(system, 0)
        print(f"    Lambda runtimes started: {started} ({started / max(done, 1):.2f} per run)")
        top = sorted(rest.items(), key=lambda kv: -kv[1])[:8]
        print("    rest: " + ", ".join(f"{k} {v:.3f}" for k, v in top if v >= 0.0005))


def report(
    results: list[Level],
    calls: dict[str, tuple[Counter[str], int, float]],
    idle: Counter[str],
    idle_s: float,
    levels: list[int],
    sample: int,
    sfn: Any,
    saga_arn: str,
) -> None:
    """Print the tables (the bare machine still exists: its histories are read here)."""
    print("\n== Throughput and latency (ok runs; latency from start/POST until the end was seen)")
    print(
        f"{'system':<8}{'clients':>8}{'ok':>7}{'not ok':>8}{'err':>5}{'ok/s':>8}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    )
    for lv in results:
        print(
            f"{lv.system:<8}{lv.clients:>8}{len(lv.ok):>7}{len(lv.runs) - len(lv.ok):>8}"
            f"{sum(lv.errors.values()):>5}{lv.rate():>8.2f}{lv.pct(0.5):>9.0f}"
            f"{lv.pct(0.95):>9.0f}{lv.pct(0.99):>9.0f}"
        )
        for err, n in lv.errors.most_common(3):
            print(f"{'':<16}error x{n}: {err}")

    by = {(lv.system, lv.clients): lv for lv in results}
    both = {lv.system for lv in results} == {"bare", "paylab"}
    if both:
        print("\n== Paylab vs bare (goals: throughput >= 0.7x, p50 <= 1.5x)")
    for clients in levels if both else []:
        b, p = by[("bare", clients)], by[("paylab", clients)]
        tput = p.rate() / b.rate() if b.rate() else float("nan")
        p50 = p.pct(0.5) / b.pct(0.5)
        print(f"  {clients:>3} clients: throughput {tput:.2f}x   p50 {p50:.2f}x")

    print("\n== LocalStack calls per run, by API (idle background subtracted)")
    for system, (counter, done, elapsed) in calls.items():
        print(f"  {system}: {done} runs, {sum(counter.values())} calls in {elapsed:.0f} s")
        for op, n in counter.most_common():
            background = idle.get(op, 0) / idle_s * elapsed
            net = max(n - background, 0.0)
            if net / max(done, 1) >= 0.01:
                print(f"    {op:<42}{net / max(done, 1):7.2f}")
        total = sum(max(n - idle.get(op, 0) / idle_s * elapsed, 0.0) for op, n in counter.items())
        print(f"    {'total':<42}{total / max(done, 1):7.2f}")
    if idle:
        rate = ", ".join(f"{op} {n / idle_s:.1f}/s" for op, n in idle.most_common(5))
        print(f"  idle background: {rate}")

    print("\n== Where the time goes (level 1, sample)")
    pay_arn = saga_arn.replace(":stateMachine:", ":execution:") + ":"
    if ("bare", levels[0]) in by:
        one_bare = by[("bare", levels[0])].ok[:sample]
        show_durations("bare: client → execution", execution_edges(sfn, one_bare, lambda r: r.name))
        show_durations("bare: states", state_durations(sfn, [r.name for r in one_bare]))
    if ("paylab", levels[0]) not in by:
        return
    one_pay = by[("paylab", levels[0])].ok[:sample]
    show_durations(
        "paylab: POST → execution",
        execution_edges(sfn, one_pay, lambda r: pay_arn + r.name),
    )
    show_durations("paylab: states", state_durations(sfn, [pay_arn + r.name for r in one_pay]))


if __name__ == "__main__":
    sys.exit(main())
