"""The running stack's memory per component and its Postgres sessions, without down/up.

    .venv/bin/python bench/idle_memory.py

Sums RSS and PSS like bench/boot.py's stack_memory() (every process `up` started, children
included), but per component, then lists the client backends of Postgres with the
component that holds each one (by the client's TCP port) and how long it has been idle.
Run it on a quiet stack: tests or benchmarks in flight add processes and sessions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".paylab"
MIB = 2**20


def components() -> dict[str, list[psutil.Process]]:
    """Each PID file's process and its children, by component name."""
    found: dict[str, list[psutil.Process]] = {}
    for record in sorted((STATE / "run").glob("*.json")):
        try:
            proc = psutil.Process(json.loads(record.read_text())["pid"])
            found[record.stem] = [proc, *proc.children(recursive=True)]
        except psutil.Error:
            continue
    return found


def memory(procs: list[psutil.Process]) -> tuple[float, float]:
    """RSS and PSS in MiB over `procs` (the ones that vanished count for nothing)."""
    rss = pss = 0.0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        rss, pss = rss + info.rss / MIB, pss + info.pss / MIB
    return rss, pss


def owners(found: dict[str, list[psutil.Process]]) -> dict[int, str]:
    """Client TCP port of every Postgres connection -> the component holding it."""
    ports: dict[int, str] = {}
    for name, procs in found.items():
        for proc in procs:
            try:
                for conn in proc.net_connections("tcp"):
                    if conn.raddr and conn.raddr.port == 5432:
                        ports[conn.laddr.port] = name
            except psutil.Error:
                continue
    return ports


def main() -> int:
    found = components()
    total_rss = total_pss = 0.0
    count = 0
    for name, procs in found.items():
        rss, pss = memory(procs)
        total_rss, total_pss, count = total_rss + rss, total_pss + pss, count + len(procs)
        print(f"{name:14s} RSS {rss:7.1f} MiB  PSS {pss:7.1f} MiB  processes {len(procs)}")
    print(f"{'total':14s} RSS {total_rss:7.1f} MiB  PSS {total_pss:7.1f} MiB  processes {count}")
    password = (STATE / "postgres" / "admin-password").read_text().strip()
    url = f"postgresql://postgres:{password}@127.0.0.1:5432/paylab"
    ports = owners(found)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT client_port, usename, state, extract(epoch FROM now() - state_change)::int,"
            " left(query, 40) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            " ORDER BY usename"
        ).fetchall()
    print(f"Postgres client backends (this one not counted): {len(rows)}")
    for port, role, state, idle, query in rows:
        print(f"  {ports.get(port, '?'):14s} {role:20s} {state:8s} {idle:>6}s  {query}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
