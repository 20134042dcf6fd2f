"""What bench/saga.py measures around its runs: LocalStack's calls, CPU-seconds, runtime spawns,
and where an execution's time goes (its history). See saga.py's docstring for the method.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psutil

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / ".paylab" / "logs" / "localstack.log"


class Timed(Protocol):
    """A client's run: when it started (epoch s) and how long until it saw the end (s)."""

    started: float
    latency: float


T = TypeVar("T", bound=Timed)


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


def localstack_footprint() -> str:
    """LocalStack's threads, memory maps and RSS: what leaks shows here first.

    Threads that ended unjoined kept their stacks mapped (Python 3.13) until the process ran
    out of maps (`vm.max_map_count`, 65,530) after ~3,600 SAGA executions; see
    localstack/src/paylab_localstack/threads.py.
    """
    try:
        pid = int(json.loads((ROOT / ".paylab" / "run" / "localstack.json").read_text())["pid"])
        proc = psutil.Process(pid)
        maps = len(Path(f"/proc/{pid}/maps").read_text().splitlines())
        rss = proc.memory_info().rss / 2**20
        return f"{proc.num_threads()} threads, {maps} memory maps, RSS {rss:,.0f} MiB"
    except (psutil.Error, OSError, ValueError, KeyError) as exc:
        return f"unknown ({exc})"


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
    sfn: Any, runs: Sequence[T], arn_of: Callable[[T], str]
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
