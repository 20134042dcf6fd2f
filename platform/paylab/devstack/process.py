"""Managed background processes: started detached, tracked by PID file, stopped by PID."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from paylab.devstack.errors import StackError


@dataclass(frozen=True)
class ProcessSpec:
    """How to run one component of the stack."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None
    port: int | None = None
    # More ports, for a process that serves several (the simulators share one process).
    ports: Sequence[int] = ()

    def all_ports(self) -> list[int]:
        """Every port the process will listen on."""
        return [*([] if self.port is None else [self.port]), *self.ports]


class ProcessManager:
    """Starts and stops the stack's processes; state lives in `.paylab/run` and `.paylab/logs`."""

    def __init__(self, state_dir: Path) -> None:
        self.run_dir = state_dir / "run"
        self.log_dir = state_dir / "logs"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def running(self, name: str) -> psutil.Process | None:
        """The live process started as `name`, or None (a reused PID does not count)."""
        try:
            record = json.loads(self.pid_file(name).read_text())
            proc = psutil.Process(int(record["pid"]))
            if abs(proc.create_time() - float(record["created"])) > 0.5:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except (FileNotFoundError, ValueError, KeyError, psutil.Error):
            return None

    def start(self, spec: ProcessSpec) -> psutil.Process:
        """Start `spec` in its own session, its output appended to its log file."""
        if (proc := self.running(spec.name)) is not None:
            return proc
        self.prepare(spec)
        env = {**os.environ, **spec.env}
        rotate_big_log(self.log_file(spec.name))
        with self.log_file(spec.name).open("ab") as log:
            log.write(start_banner(spec.name))
            log.flush()
            popen = subprocess.Popen(
                list(spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=spec.cwd,
                user=spec.user,
                # Its own session: Ctrl-C in the terminal does not reach it, and `stop`
                # can signal the whole group (children included).
                start_new_session=True,
            )
        return self.record(spec.name, popen.pid, spec.argv)

    def prepare(self, spec: ProcessSpec) -> None:
        """Check `spec`'s ports are free and make the run and log folders."""
        for port in spec.all_ports():
            ensure_port_free(port, spec.name)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def record(self, name: str, pid: int, argv: Sequence[str]) -> psutil.Process:
        """Write `name`'s PID file: its PID, start time and the argv that starts it again."""
        proc = psutil.Process(pid)
        record = {"pid": pid, "created": proc.create_time(), "argv": list(argv)}
        self.pid_file(name).write_text(json.dumps(record))
        return proc

    def stop(self, name: str, timeout: float = 20.0) -> bool:
        """Stop `name` (TERM, then KILL after `timeout`); True if something was running."""
        proc = self.running(name)
        self.pid_file(name).unlink(missing_ok=True)
        if proc is None:
            return False
        group = _group_of(proc)
        _signal(proc, group, signal.SIGTERM)
        if not _wait_gone(proc, timeout):
            _signal(proc, group, signal.SIGKILL)
            _wait_gone(proc, 5)
        if group is not None:
            # Children that outlived their parent in the same group (e.g. Lambda runtimes).
            _kill_group_leftovers(group)
        return True

    def check_alive(self, name: str) -> psutil.Process:
        """The process, or a StackError that points at its log."""
        proc = self.running(name)
        if proc is None:
            raise StackError(f"{name} exited during start-up; see {self.log_file(name)}")
        return proc


# A start finds its component's log over this size: it becomes NAME.log.1 (replacing the one
# before), so the logs of a lab used every day stay bounded and the last big run stays readable.
LOG_ROTATE_BYTES = 32 * 1024 * 1024


def rotate_big_log(path: Path, limit: int = LOG_ROTATE_BYTES) -> None:
    """Move `path` aside to `path.1` if it has grown past `limit` bytes (before a start)."""
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size > limit:
            path.replace(path.with_name(path.name + ".1"))


def start_banner(name: str) -> bytes:
    """The line each start appends to the component's log."""
    return f"\n--- paylab: starting {name} at {time.ctime()} ---\n".encode()


def _wait_gone(proc: psutil.Process, timeout: float) -> bool:
    """True once `proc` has exited; a zombie counts (only its parent can reap it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
            proc.wait(timeout=0.1)
            return True
        except psutil.TimeoutExpired:
            continue
        except psutil.NoSuchProcess:
            return True
    return False


def _group_of(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid)
    except ProcessLookupError:
        return None


def _signal(proc: psutil.Process, group: int | None, sig: signal.Signals) -> None:
    try:
        if group is not None and group == proc.pid:
            os.killpg(group, sig)
        else:
            proc.send_signal(sig)
    except (ProcessLookupError, psutil.NoSuchProcess):
        pass


def _kill_group_leftovers(group: int) -> None:
    leftovers = []
    for candidate in psutil.process_iter(["pid"]):
        try:
            # A zombie has ended: nothing to kill, and waiting for one we are not the parent
            # of lasts until its parent reaps it (the stopped process itself, often).
            if os.getpgid(candidate.pid) == group and candidate.status() != psutil.STATUS_ZOMBIE:
                leftovers.append(candidate)
        except (ProcessLookupError, psutil.Error):
            continue
    for leftover in leftovers:
        with contextlib.suppress(psutil.Error):
            leftover.kill()
    psutil.wait_procs(leftovers, timeout=5)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def port_owner(port: int) -> psutil.Process | None:
    """The process listening on `port`, when the OS lets us see it."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                return psutil.Process(conn.pid) if conn.pid else None
    except (psutil.Error, PermissionError):
        return None
    return None


def ensure_port_free(port: int, name: str) -> None:
    """Refuse to start `name` on a port someone else holds (clear error, no hang)."""
    if not port_in_use(port):
        return
    owner = port_owner(port)
    who = f"PID {owner.pid} ({' '.join(owner.cmdline()[:3])})" if owner else "another process"
    raise StackError(
        f"port {port} needed by {name} is taken by {who}; stop it or choose another port "
        f"(see README, 'What runs where')"
    )


def listens_on(proc: psutil.Process, port: int) -> bool:
    """True if `proc` or one of its children owns the listening socket on `port`."""
    owner = port_owner(port)
    if owner is None:
        return False
    family = {proc.pid, *(child.pid for child in proc.children(recursive=True))}
    return owner.pid in family


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], object] | None = None,
    interval: float = 0.05,
) -> None:
    """Poll `condition` until true; StackError on timeout; `alive` raises if the process died."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if alive is not None:
            alive()
        if time.monotonic() >= deadline:
            raise StackError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
