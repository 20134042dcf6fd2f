"""Boot times and idle memory of the local stack.

Cold: the environments are installed but no state exists (no Postgres cluster, no stack).
Warm: `up` after `down` with the state of a previous run kept.
Idle memory of every process of the stack (children included) after `up` settles, as RSS
(what each process has resident, shared pages counted once per process: Postgres' shared
buffers and shared libraries are counted 20+ times) and as PSS (each shared page divided
among the processes sharing it: the memory the stack really takes). Goals (issue 2):
warm <= 10 s, cold <= 30 s, idle RSS <= 1.5 GiB.

Booting is CPU-bound on 2 cores, so each warm `up` also reports its CPU-seconds: the `up`
command's own (with the launcher it runs) and every stack process's, read as `up` returns.
`PAYLAB_PREFORK=false` compares with one plain process per service.

    .venv/bin/python bench/boot.py [--runs 3]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
PAYLAB = [str(ROOT / "paylab")]
STATE = ROOT / ".paylab"
# What a cold start must rebuild; the virtual environments are kept (they are "install").
_DATA = ["postgres", "redis", "localstack/fs", "run"]


def run(*args: str) -> float:
    started = time.monotonic()
    subprocess.run([*PAYLAB, *args], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def children_cpu() -> float:
    """CPU-seconds of the commands this script has run and waited for (and their waited ones)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stack_processes() -> list[psutil.Process]:
    """Every process that `up` started, with their children."""
    import json

    found = []
    for record in (STATE / "run").glob("*.json"):
        try:
            proc = psutil.Process(json.loads(record.read_text())["pid"])
            found += [proc, *proc.children(recursive=True)]
        except (psutil.Error, ValueError, KeyError):
            continue
    return found


def stack_cpu() -> float:
    """CPU-seconds the stack's processes have used since they started."""
    total = 0.0
    for proc in stack_processes():
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def stack_memory() -> tuple[int, int, int]:
    """RSS bytes, PSS bytes and number of processes, over every process that `up` started."""
    total, pss, count = 0, 0, 0
    for member in stack_processes():
        try:
            info = member.memory_full_info()
            total += info.rss
            pss += info.pss
            count += 1
        except psutil.Error:
            continue
    return total, pss, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds idle before RSS")
    args = parser.parse_args()

    run("down")
    run("up")  # make sure every environment is installed before timing anything
    cold, warm, rss = [], [], []
    cpu: list[tuple[float, float]] = []
    for _ in range(args.runs):
        run("down")
        for part in _DATA:
            shutil.rmtree(STATE / part, ignore_errors=True)
        cold.append(run("up"))
        run("down")
        before = children_cpu()
        warm.append(run("up"))
        cpu.append((children_cpu() - before, stack_cpu()))
        time.sleep(args.settle)  # idle means idle: nothing to wait for but time itself
        rss.append(stack_memory())
    run("down")

    print(f"runs: {args.runs}, machine: {psutil.cpu_count()} cores")
    for label, times, goal in (("cold", cold, 30), ("warm", warm, 10)):
        each = ", ".join(f"{t:.1f}" for t in times)
        median = statistics.median(times)
        print(f"{label} up: median {median:.1f} s (runs: {each}), goal <= {goal} s")
    command = statistics.median(c[0] for c in cpu)
    processes = statistics.median(c[1] for c in cpu)
    print(
        f"warm up CPU: median {command + processes:.1f} CPU-s (the up command "
        f"{command:.1f}, stack processes {processes:.1f})"
    )
    mem = statistics.median(r[0] for r in rss) / 2**20
    pss = statistics.median(r[1] for r in rss) / 2**20
    print(f"idle RSS: median {mem:.0f} MiB over {rss[-1][2]} processes  goal <= 1536 MiB")
    print(f"idle PSS: median {pss:.0f} MiB (shared pages counted once)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
