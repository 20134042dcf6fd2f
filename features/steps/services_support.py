"""Helpers for the features that stop, kill and start the stack's processes.

They act on one component by the PID file `./paylab up` wrote for it, start it again with the
argv recorded there, and wait for its /health; nothing sleeps blindly.
"""

from __future__ import annotations

import contextlib
import json
from functools import cache

import httpx
import psutil
from waiting_support import wait_for

from paylab.core.settings import get_settings
from paylab.devstack.process import ProcessManager, ProcessSpec
from paylab.devstack.services import SERVICES


# ------------------------------------------------------------------------------- processes
@cache
def _manager() -> ProcessManager:
    return ProcessManager(get_settings().state_dir)


def _healthy(port: int) -> bool | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200 or None
    except httpx.HTTPError:
        return None


def recorded_argv(name: str) -> list[str]:
    """The argv `./paylab up` recorded in the component's PID file."""
    record = json.loads(_manager().pid_file(name).read_text())
    return [str(a) for a in record["argv"]]


def stop_service(name: str) -> list[str]:
    """Stop one service by its PID file; returns its argv to start it again."""
    argv = recorded_argv(name)
    assert _manager().stop(name), f"{name} was not running"
    return argv


def kill_service(name: str) -> list[str]:
    """SIGKILL one service (no graceful shutdown), found by its PID file; returns its argv."""
    argv = recorded_argv(name)
    proc = _manager().running(name)
    assert proc is not None, f"{name} was not running"
    proc.kill()
    # Dead, or a zombie when its parent (whoever ran `up`) has not reaped it yet: either way
    # it serves nothing and its port is free.
    wait_for(f"{name} (PID {proc.pid}) to die", lambda: True if _dead(proc) else None, timeout=10.0)
    return argv


def _dead(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def start_service(name: str, argv: list[str], port: int, env: dict[str, str] | None = None) -> None:
    """Start a service again with `argv` (and extra `env`), and wait until it is healthy."""
    _manager().start(
        ProcessSpec(name=name, argv=argv, env=env or {}, cwd=get_settings().root, port=port)
    )
    wait_for(f"{name} to answer /health", lambda: _healthy(port), timeout=60.0)


def pause_service(name: str) -> psutil.Process:
    """SIGSTOP one service: its port still accepts connections, nothing reads them."""
    proc = _manager().running(name)
    assert proc is not None, f"{name} was not running"
    proc.suspend()
    return proc


def resume_service(proc: psutil.Process) -> None:
    """SIGCONT a service paused by `pause_service` (a no-op once it is running or gone)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.resume()


def service_running(name: str) -> bool:
    """True while the component started as `name` is alive."""
    return _manager().running(name) is not None


def stop_for_scenario(name: str, cleanup: contextlib.ExitStack) -> list[str]:
    """Stop one service; `cleanup` starts it again (same argv) unless it runs by then."""
    argv = recorded_argv(name)
    cleanup.callback(lambda: None if service_running(name) else start_again(name, argv))
    stop_service(name)
    return argv


def start_again(name: str, argv: list[str]) -> None:
    """Start a service stopped by `stop_for_scenario` on its own port; wait until healthy."""
    start_service(name, argv, SERVICES[name])
