"""The FastAPI services on the host: one uvicorn process each, on its ARCHITECTURE port."""

from __future__ import annotations

import sys
from pathlib import Path

from paylab.core.app import SERVER_KEEP_ALIVE_S
from paylab.devstack.probes import http_ok
from paylab.devstack.process import ProcessManager, ProcessSpec, wait_until

# ARCHITECTURE §1: the services, with their ports.
SERVICES = {
    "auth": 8001,
    "payment": 8002,
    "wallet": 8003,
    "merchant": 8004,
    "notification": 8005,
    "audit": 8006,
    "gateway": 8080,
}


class HostServices:
    """Starts the services whose code exists and waits for their health checks."""

    def __init__(self, root: Path, manager: ProcessManager) -> None:
        self.root = root
        self.manager = manager

    def available(self) -> dict[str, int]:
        """The services whose code exists (issues add them one by one)."""
        package = self.root / "platform" / "paylab"
        return {n: p for n, p in SERVICES.items() if (package / n / "app.py").exists()}

    def specs(self, services: dict[str, int]) -> list[ProcessSpec]:
        """How to run each of `services` (name to port): uvicorn with its app factory."""
        return [
            ProcessSpec(
                name=name,
                # Each service's app.py has a `create()` factory: nothing connects at import.
                argv=[
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    f"paylab.{name}.app:create",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-access-log",
                    "--timeout-keep-alive",
                    str(SERVER_KEEP_ALIVE_S),
                    # Every local client connects from loopback, which uvicorn trusts by
                    # default: it would take a client's X-Forwarded-For as the peer, and any
                    # per-IP limit could be dodged. The gateway reads XFF itself, trusting
                    # only PAYLAB_GATEWAY_TRUSTED_PROXY_HOPS; the services behind it do
                    # trust the gateway's.
                    *(["--no-proxy-headers"] if name == "gateway" else []),
                ],
                cwd=self.root,
                port=port,
            )
            for name, port in services.items()
        ]

    def wait_ready(self, services: dict[str, int]) -> None:
        """Wait for each service's /health; StackError if its process dies."""
        for name, port in services.items():
            wait_until(
                lambda port=port: http_ok(f"http://127.0.0.1:{port}/health"),  # type: ignore[misc]
                timeout=60,
                what=f"the {name} service on port {port}",
                alive=lambda name=name: self.manager.check_alive(name),  # type: ignore[misc]
            )
