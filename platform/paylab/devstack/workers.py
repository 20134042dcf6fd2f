"""The background worker `paylab up` runs next to the services: the relay and the consumers."""

from __future__ import annotations

import sys
from pathlib import Path

from paylab.devstack.process import ProcessManager, ProcessSpec

# The outbox relay and the SQS consumers share one process: see docs/decisions.md.
WORKER_PROCESS = "workers"
WORKERS = {WORKER_PROCESS: "paylab.core.worker"}
# Each was a process of its own before: `up` stops those, and their names keep showing the
# shared log (`paylab logs consumers`, `paylab logs outbox-relay`).
MERGED = ("outbox-relay", "consumers")


def start_workers(manager: ProcessManager, root: Path) -> None:
    """Start the worker process unless it runs already (replacing a stack's older workers)."""
    if manager.running(WORKER_PROCESS) is None:
        for name in MERGED:
            manager.stop(name)
    link_logs(manager)
    for name, module in WORKERS.items():
        manager.start(ProcessSpec(name=name, argv=[sys.executable, "-m", module], cwd=root))


def link_logs(manager: ProcessManager) -> None:
    """Point each merged component's log file at the worker's log."""
    manager.log_dir.mkdir(parents=True, exist_ok=True)
    target = manager.log_file(WORKER_PROCESS).name
    for name in MERGED:
        link = manager.log_file(name)
        if link.is_symlink() and str(link.readlink()) == target:
            continue
        link.unlink(missing_ok=True)  # a log of the separate process: superseded
        link.symlink_to(target)
