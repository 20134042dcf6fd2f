"""The background workers `paylab up` runs next to the services."""

from __future__ import annotations

import sys
from pathlib import Path

from paylab.devstack.process import ProcessManager, ProcessSpec

# One process for every SQS consumer (notification, audit): see docs/decisions.md.
WORKERS = {"outbox-relay": "paylab.core.outbox_relay", "consumers": "paylab.core.consumer"}


def start_workers(manager: ProcessManager, root: Path) -> None:
    """Background workers: the outbox relay publishes every service's events."""
    for name, module in WORKERS.items():
        manager.start(ProcessSpec(name=name, argv=[sys.executable, "-m", module], cwd=root))
