"""The partner simulators on the host: one process serves them all, each on its own port."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from paylab.devstack.probes import http_ok
from paylab.devstack.process import ProcessManager, ProcessSpec, wait_until

# ARCHITECTURE §1: the partner simulators, with their ports.
SIMULATORS = {"pse": 9001, "bank": 9002, "antifraud": 9003, "sms": 9004, "merchant": 9005}
# They share one process (and one log): see docs/decisions.md. `status` still has a
# `sim-NAME` row per simulator, and `logs sim-NAME` shows the shared log.
SIMULATOR_PROCESS = "simulators"
# The `sim-NAME` names: `logs sim-NAME`, and `down` of a stack started by older code.
SIMULATOR_COMPONENTS = tuple(f"sim-{name}" for name in SIMULATORS)


def simulator_url(name: str) -> str:
    """Where simulator `name` listens."""
    return f"http://127.0.0.1:{SIMULATORS[name]}"


def simulator_healthy(url: str) -> bool:
    """True when the simulator at `url` answers its health check."""
    return http_ok(f"{url}/_sim/health")


def process_of(name: str) -> str:
    """The process behind component `name`: every `sim-NAME` is the shared one."""
    return SIMULATOR_PROCESS if name in SIMULATOR_COMPONENTS else name


class HostSimulators:
    """Starts the shared simulator process and waits until every simulator answers."""

    def __init__(self, root: Path, manager: ProcessManager, *, external: bool = False) -> None:
        self.root = root
        self.manager = manager
        self.external = external  # already served (compose): waited for, never started

    @property
    def available(self) -> bool:
        """False in a checkout without the simulators package."""
        return (self.root / "simulators" / "__main__.py").exists()

    def spec(self) -> ProcessSpec | None:
        """How to run the shared process; None without the simulators package or when
        they run elsewhere."""
        if not self.available or self.external:
            return None
        if self.manager.running(SIMULATOR_PROCESS) is None:
            # A stack started when each simulator had its own process: those hold the ports.
            for name in SIMULATOR_COMPONENTS:
                self.manager.stop(name)
        ports = [arg for port in SIMULATORS.values() for arg in ("--port", str(port))]
        return ProcessSpec(
            name=SIMULATOR_PROCESS,
            argv=[sys.executable, "-m", "simulators", *SIMULATORS, *ports],
            cwd=self.root,
            ports=tuple(SIMULATORS.values()),
        )

    def wait_ready(self) -> None:
        """Wait for every simulator's health check; StackError if the process dies."""
        if not self.available:
            return
        for name in SIMULATORS:
            wait_until(
                partial(simulator_healthy, simulator_url(name)),
                timeout=30,
                what=f"the {name} simulator on port {SIMULATORS[name]}",
                alive=None
                if self.external
                else lambda: self.manager.check_alive(SIMULATOR_PROCESS),
            )
