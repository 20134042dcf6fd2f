"""Our LocalStack's ceilings on this machine: stock settings against Paylab's, side by side.

    .venv/bin/python bench/localstack.py [--seconds 12] [--port 4630]
        [--localstack-python .paylab/localstack/venv/bin/python] [--settings stock,paylab]
        [--workloads lambda,sfn,sqs]

It starts LocalStack twice on 127.0.0.1 (one port, one after the other), with the environment of
`./paylab up` (HostLocalStack.environment()) in a temporary directory:

- stock: our plugins only (Lambda needs the host executor at all), PAYLAB_LOCALSTACK_PERF=0;
- paylab: the plugin's performance patches on, plus PAYLAB_SETTINGS below.

Workloads, each warmed up and then run for a bounded time:

- Lambda: synchronous invokes of a trivial python3.11 handler from 8 client threads;
- Step Functions: executions of a STANDARD state machine with four Lambda tasks
  (`lambda:invoke`, Payload.$/OutputPath/Catch) from 1, 4 and 16 starters. Each starter starts an
  execution and waits for it; one watcher thread learns which executions finished from
  ListExecutions(statusFilter=RUNNING), one call for all starters, timed from the observed
  latency with backoff, so that polling costs LocalStack little;
- SQS: send + receive + delete cycles on a standard queue from 4 client threads.

CPU is LocalStack's own process (function processes excluded), in % of one core. LocalStack is
stopped by PID after each run; nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psutil
from botocore.config import Config

from paylab.devstack.localstack import HostLocalStack
from paylab.devstack.process import ProcessManager, listens_on

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PYTHON = ROOT / ".paylab" / "localstack" / "venv" / "bin" / "python"
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/bench"
# Stock: our plugins only. Paylab: the plugin's patches plus the settings that measured faster.
STOCK_SETTINGS = {"PAYLAB_LOCALSTACK_PERF": "0"}
PAYLAB_SETTINGS = {"PAYLAB_LOCALSTACK_PERF": "1", "GATEWAY_SERVER": "paylab_twisted"}
HANDLER = "def handler(event, context):\n    return {'n': event.get('n', 0) + 1}\n"
SFN_STARTERS = (1, 4, 16)
LAMBDA_CLIENTS = 8
SQS_CLIENTS = 4
WARMUP_S = 3.0


@dataclass
class Result:
    """Throughput of one workload, with latency and LocalStack's CPU over the measured window."""

    per_second: float
    p50_ms: float
    cpu_percent: float
    errors: int = 0


@dataclass
class Run:
    """One LocalStack process under test."""

    proc: subprocess.Popen[bytes]
    endpoint: str
    log: Path
    results: dict[str, Result] = field(default_factory=dict)


def client(endpoint: str, service: str) -> Any:
    """A boto3 client for the LocalStack under test, without retries hiding errors."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=32),
    )


def environment(port: int, workdir: Path, extra: dict[str, str]) -> dict[str, str]:
    """`./paylab up`'s LocalStack environment, moved to a temporary directory and our port."""
    host = HostLocalStack(ROOT, workdir, port, ProcessManager(workdir))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PAYLAB_"))}
    return {**env, **host.environment(), **extra}


def healthy(endpoint: str) -> bool:
    """LocalStack's health endpoint answers 200."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def localstack(python: Path, port: int, extra: dict[str, str]) -> Iterator[Run]:
    """Start LocalStack with these settings, wait until it serves on our port, stop it by PID."""
    endpoint = f"http://127.0.0.1:{port}"
    if healthy(endpoint):
        raise SystemExit(f"something already answers on {endpoint}: pick another --port")
    with tempfile.TemporaryDirectory(prefix="bench-localstack-") as tmp:
        workdir = Path(tmp)
        (workdir / "localstack" / "fs").mkdir(parents=True)
        log = workdir / "localstack.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(python), "-m", "localstack.runtime.main"],
                env=environment(port, workdir, extra),
                cwd=workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        run = Run(proc, endpoint, log)
        try:
            wait_ready(run, port)
            yield run
        finally:
            stop(proc)


def wait_ready(run: Run, port: int, limit_s: float = 60.0) -> None:
    """Wait for health, then make sure the process answering is the one we started."""
    deadline = time.monotonic() + limit_s
    while not healthy(run.endpoint):
        if run.proc.poll() is not None or time.monotonic() > deadline:
            tail = run.log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"LocalStack did not start on {run.endpoint}:\n{tail}")
        time.sleep(0.2)
    if not listens_on(psutil.Process(run.proc.pid), port):
        raise SystemExit(f"another process owns port {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM LocalStack by PID, SIGKILL after 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class CpuMeter:
    """CPU of one process between start() and stop(), in % of one core."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.started = 0.0
        self.cpu = 0.0

    def _cpu(self) -> float:
        times = self.proc.cpu_times()
        return float(times.user + times.system)

    def start(self) -> None:
        self.started, self.cpu = time.monotonic(), self._cpu()

    def stop(self) -> float:
        return 100 * (self._cpu() - self.cpu) / (time.monotonic() - self.started)


def measure(run: Run, threads: int, seconds: float, op: Callable[[], None]) -> Result:
    """Run `op` in a loop from `threads` threads: warm up, then count over `seconds`."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    phase = {"measuring": False, "until": float("inf")}

    def worker() -> None:
        while time.monotonic() < phase["until"]:
            began = time.monotonic()
            try:
                op()
            except Exception:  # counted and reported, the run goes on
                with lock:
                    errors[0] += 1
                continue
            if phase["measuring"]:
                with lock:
                    latencies.append(time.monotonic() - began)

    meter = CpuMeter(run.proc.pid)
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    time.sleep(WARMUP_S)
    phase["until"] = time.monotonic() + seconds
    meter.start()
    phase["measuring"] = True
    for thread in pool:
        thread.join()
    cpu = meter.stop()
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    return Result(len(latencies) / seconds, p50, cpu, errors[0])


def zip_handler() -> bytes:
    """The trivial function's deployment package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


def create_function(endpoint: str, name: str) -> str:
    """A python3.11 function returning its input's n + 1; its ARN once active."""
    lam = client(endpoint, "lambda")
    arn: str = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_handler()},
        Timeout=30,
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return arn


def bench_lambda(run: Run, seconds: float) -> None:
    """Synchronous invokes from LAMBDA_CLIENTS threads."""
    name = "bench-invoke"
    create_function(run.endpoint, name)
    lam = client(run.endpoint, "lambda")

    def invoke() -> None:
        response = lam.invoke(FunctionName=name, Payload=b'{"n": 1}')
        if response.get("FunctionError"):
            raise RuntimeError(response["Payload"].read())
        response["Payload"].read()

    run.results[f"Lambda invokes/s ({LAMBDA_CLIENTS} clients)"] = measure(
        run, LAMBDA_CLIENTS, seconds, invoke
    )


def state_machine(function_arn: str) -> str:
    """Four `lambda:invoke` tasks in a row, each with Payload.$, OutputPath and a Catch."""
    states: dict[str, Any] = {}
    for n in range(1, 5):
        states[f"T{n}"] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
            "OutputPath": "$.Payload",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
            **({"Next": f"T{n + 1}"} if n < 4 else {"End": True}),
        }
    states["Failed"] = {"Type": "Fail", "Error": "TaskFailed"}
    return json.dumps({"StartAt": "T1", "States": states})


class CompletionWatcher:
    """Tells starters when their executions end, from one ListExecutions(RUNNING) for all.

    It sleeps until the oldest pending execution reaches 80% of the observed latency, then polls;
    a poll that finds nothing finished waits 1.5x longer next time (10 ms to 100 ms).
    """

    MIN_S, MAX_S = 0.01, 0.1

    def __init__(self, endpoint: str, machine_arn: str) -> None:
        self.sfn = client(endpoint, "stepfunctions")
        self.machine_arn = machine_arn
        self.pending: dict[str, tuple[float, threading.Event]] = {}
        self.lock = threading.Lock()
        self.wakeup = threading.Event()
        self.stopped = threading.Event()
        self.latency = 0.05
        self.backoff = self.MIN_S
        self.polls = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def wait(self, execution_arn: str, started: float, timeout: float = 60.0) -> None:
        """Block until the execution is no longer RUNNING."""
        done = threading.Event()
        with self.lock:
            self.pending[execution_arn] = (started, done)
        self.wakeup.set()
        if not done.wait(timeout):
            raise TimeoutError(execution_arn)

    def close(self) -> None:
        self.stopped.set()
        self.wakeup.set()
        self.thread.join()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            with self.lock:
                oldest = min((s for s, _ in self.pending.values()), default=None)
            if oldest is None:
                self.wakeup.wait(0.5)
                self.wakeup.clear()
                continue
            due = oldest + 0.8 * self.latency - time.monotonic()
            self.stopped.wait(max(due, self.backoff))
            self._poll()

    def _poll(self) -> None:
        running = {
            e["executionArn"]
            for e in self.sfn.list_executions(
                stateMachineArn=self.machine_arn, statusFilter="RUNNING", maxResults=1000
            )["executions"]
        }
        self.polls += 1
        now = time.monotonic()
        with self.lock:
            finished = [arn for arn in self.pending if arn not in running]
            for arn in finished:
                started, done = self.pending.pop(arn)
                self.latency = 0.8 * self.latency + 0.2 * (now - started)
                done.set()
        self.backoff = self.MIN_S if finished else min(self.backoff * 1.5, self.MAX_S)


def bench_stepfunctions(run: Run, seconds: float) -> None:
    """Executions/s of the 4-task machine from 1, 4 and 16 starters (one machine each)."""
    function_arn = create_function(run.endpoint, "bench-task")
    sfn = client(run.endpoint, "stepfunctions")
    for starters in SFN_STARTERS:
        machine_arn = sfn.create_state_machine(
            name=f"bench-{starters}", definition=state_machine(function_arn), roleArn=ROLE
        )["stateMachineArn"]
        watcher = CompletionWatcher(run.endpoint, machine_arn)

        def execute(machine_arn: str = machine_arn, watcher: CompletionWatcher = watcher) -> None:
            started = time.monotonic()
            arn = sfn.start_execution(stateMachineArn=machine_arn, input='{"n": 0}')
            watcher.wait(arn["executionArn"], started)

        result = measure(run, starters, seconds, execute)
        watcher.close()
        result.errors += failed_executions(sfn, machine_arn)
        run.results[f"Step Functions executions/s ({starters} starters)"] = result


def failed_executions(sfn: Any, machine_arn: str) -> int:
    """Executions of the machine that ended in anything but SUCCEEDED (each should succeed)."""
    failed = 0
    for status in ("FAILED", "TIMED_OUT", "ABORTED"):
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=machine_arn, statusFilter=status
        )
        failed += sum(len(page["executions"]) for page in pages)
    return failed


def bench_sqs(run: Run, seconds: float) -> None:
    """Send + receive + delete cycles on one standard queue from SQS_CLIENTS threads."""
    sqs = client(run.endpoint, "sqs")
    url = sqs.create_queue(QueueName="bench-cycles")["QueueUrl"]

    def cycle() -> None:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 200)
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            raise RuntimeError("nothing received")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])

    run.results[f"SQS send+receive+delete cycles/s ({SQS_CLIENTS} clients)"] = measure(
        run, SQS_CLIENTS, seconds, cycle
    )


WORKLOADS: dict[str, Callable[[Run, float], None]] = {
    "lambda": bench_lambda,
    "sfn": bench_stepfunctions,
    "sqs": bench_sqs,
}


def print_table(runs: dict[str, Run]) -> None:
    """One row per workload: each setting's figure, p50 and CPU, then paylab/stock."""
    names = list(runs)
    rows = list(next(iter(runs.values())).results)
    header = "| workload | " + " | ".join(f"{n}/s (p50 ms, LS CPU %)" for n in names)
    print(header + (" | ratio |" if len(names) == 2 else " |"))
    print("|---" * (len(names) + 1 + (len(names) == 2)) + "|")
    for row in rows:
        cells = []
        for name in names:
            r = runs[name].results[row]
            errors = f", {r.errors} errors" if r.errors else ""
            cells.append(f"{r.per_second:.1f} ({r.p50_ms:.0f} ms, {r.cpu_percent:.0f}%{errors})")
        line = f"| {row} | " + " | ".join(cells)
        if len(names) == 2:
            first, second = (runs[n].results[row].per_second for n in names)
            line += f" | {second / first:.2f}x" if first else " | -"
        print(line + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="measured time per workload")
    parser.add_argument("--port", type=int, default=4630)
    parser.add_argument("--localstack-python", type=Path, default=DEFAULT_PYTHON)
    parser.add_argument("--settings", default="stock,paylab", help="stock, paylab or both")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="lambda,sfn,sqs")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="extra paylab setting"
    )
    args = parser.parse_args()
    if not args.localstack_python.exists():
        print(f"no LocalStack python at {args.localstack_python}: run ./paylab up once")
        return 1
    extra = dict(item.split("=", 1) for item in args.set)
    settings = {"stock": STOCK_SETTINGS, "paylab": {**PAYLAB_SETTINGS, **extra}}
    runs: dict[str, Run] = {}
    for name in args.settings.split(","):
        print(f"{name}: starting LocalStack with {settings[name]}", file=sys.stderr)
        with localstack(args.localstack_python, args.port, settings[name]) as run:
            for workload in args.workloads.split(","):
                print(f"{name}: {workload}", file=sys.stderr)
                WORKLOADS[workload](run, args.seconds)
            runs[name] = run
    print_table(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
