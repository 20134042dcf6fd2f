"""bench/saga.py's results: runs, levels, and the printed tables (throughput and latency, the
ratio to the bare machine, LocalStack calls by API, where the time goes, CPU per run)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from saga_probes import CPU_PARTS, execution_edges, show_durations, state_durations


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
