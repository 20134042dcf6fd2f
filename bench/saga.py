"""The payment SAGA end to end vs a bare four-Lambda state machine, on the same LocalStack.

    ./paylab up
    .venv/bin/python bench/saga.py [--seconds 20] [--levels 1,8,32] [--sample 20]
    .venv/bin/python bench/saga.py --systems paylab --levels 1,8 --seconds 10   # calls only

The measuring around the runs (LocalStack's log, CPU, runtime spawns, execution histories) is
in saga_probes.py, the results and their tables in saga_report.py.

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
~0.25 CPU-s, a warm invocation a few ms). Before its levels, each system warms up at the
highest level, unmeasured, in `--warmup`-second rounds until a round starts no runtime (at
most `--warmup-rounds`): the levels then measure warm runtimes.
"Where the time goes" folds the execution histories of a sample of level-1 runs. LocalStack's
threads, memory maps and RSS are printed before and after each system (a leak shows there).

Loopback only, bounded in time, prints numbers, asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import threading
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
from saga_probes import (
    SpawnCounter,
    calls_between,
    cpu_sample,
    cpu_since,
    idle_rate,
    localstack_footprint,
    quietest,
    settle,
)
from saga_report import Level, Run, report, report_cpu

from paylab.core.aws import client as aws_client
from paylab.core.internal_auth import HEADER, internal_credential
from paylab.core.stack_outputs import output

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


def warm_up(system: str, clients: int, seconds: float, rounds: int, one: Callable[[], Run]) -> None:
    """Rounds at the highest level, not measured, until one starts no Lambda runtime.

    Lambda runtimes (a cold start costs ~0.25 CPU-s), connection pools, caches: the measured
    levels then run on as many warm runtimes as the highest level needs. Paylab's tasks last
    longer than the bare machine's, so it needs more runtimes at once and one round may not
    start them all.
    """
    for n in range(1, rounds + 1):
        with SpawnCounter() as counter:
            level = run_level(system, clients, seconds, one)
        print(
            f"{system:>6} warm-up {n}: {len(level.runs)} runs, "
            f"{len(counter.seen)} Lambda runtimes started",
            file=sys.stderr,
        )
        if not counter.seen:
            return


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


# ------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per level and system")
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds a warm-up round lasts, per system"
    )
    parser.add_argument(
        "--warmup-rounds",
        type=int,
        default=4,
        help="most warm-up rounds: rounds repeat until one starts no Lambda runtime",
    )
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
    footprints = [f"before: {localstack_footprint()}"]
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
            warm_up(system, max(levels), args.warmup, args.warmup_rounds, one)
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
            footprints.append(f"after {system} ({done} runs): {localstack_footprint()}")
        idle, idle_cpu = quietest(idle_before, idle_rate(idle_s))
        report(results, calls, idle, idle_s, levels, args.sample, sfn, saga_arn)
        report_cpu(cpu, calls, idle_cpu, idle_s, spawns)
        print("\n== LocalStack's footprint")
        print("\n".join(f"  {line}" for line in footprints))
    finally:
        if "bare" in systems:
            bare.delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
