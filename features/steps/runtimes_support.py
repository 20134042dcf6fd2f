"""The SAGA's Lambda runtime processes on the running stack: find the one inside a step, kill it.

Our LocalStack runs each Lambda execution environment as a host process it spawned itself
(localstack/src/paylab_localstack/lambda_executor): a child of the LocalStack process whose
environment names the function (AWS_LAMBDA_FUNCTION_NAME) and LocalStack (PAYLAB_PARENT_PID).
A runtime is inside a step while it holds a connection to the service the step calls: the
Lambdas call the services with urllib, one connection per call and no keep-alive.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
from waiting_support import wait_for

from paylab.core.settings import get_settings
from paylab.devstack.process import ProcessManager

#: SAGA step -> (the Lambda's name after the stack's, the port of the service it calls).
STEPS = {
    "ReserveFunds": ("reserve-funds", 8003),
    "ProcessPayment": ("process-payment", 8002),
    "CaptureFunds": ("capture-funds", 8003),
}


def function_name(step: str) -> str:
    """The deployed function of a SAGA step (the template names it `<stack>-<suffix>`)."""
    return f"{get_settings().stack_name}-{STEPS[step][0]}"


def runtimes(function: str) -> list[psutil.Process]:
    """The live runtime processes of `function` under the stack's LocalStack."""
    localstack = ProcessManager(get_settings().state_dir).running("localstack")
    assert localstack is not None, "LocalStack is not running"
    found = []
    for child in localstack.children():
        try:
            env = child.environ()
        except psutil.Error:  # exited meanwhile, or not ours to read
            continue
        if env.get("AWS_LAMBDA_FUNCTION_NAME") == function and env.get("PAYLAB_PARENT_PID") == str(
            localstack.pid
        ):
            found.append(child)
    return found


def _calls(proc: psutil.Process, port: int) -> set[int]:
    """Local ports of `proc`'s open connections to 127.0.0.1:`port`."""
    try:
        connections = proc.net_connections("tcp")
    except psutil.Error:
        return set()
    return {
        c.laddr.port
        for c in connections
        if c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr.port == port
    }


def busy_runtime(step: str, *, busy_for: float, timeout: float) -> psutil.Process:
    """The runtime of `step` that has been inside one call for `busy_for` seconds.

    Other payments' calls of the same step finish in milliseconds; the scenario makes its own
    call slow (a partner fault scoped to its payment), so the call that lasts is its own.
    """
    function, port = STEPS[step]
    name = function_name(step)
    since: dict[tuple[int, int], float] = {}

    def probe() -> psutil.Process | None:
        now = time.monotonic()
        open_calls = {(p.pid, lport): p for p in runtimes(name) for lport in _calls(p, port)}
        for key in set(since) - set(open_calls):
            del since[key]  # that call ended: a new one starts its own clock
        for key, proc in open_calls.items():
            if now - since.setdefault(key, now) >= busy_for:
                return proc
        return None

    return wait_for(f"a {function} runtime inside a slow call", probe, timeout=timeout, first=0.1)


def _unread_requests(port: int) -> set[int]:
    """Client ports whose bytes sit unread in the server's sockets on 127.0.0.1:`port`.

    From /proc/net/tcp: a stopped server's kernel still accepts connections and data, which
    then wait in the receive queue (`rx_queue`) of the server's side of each connection.
    """
    server = f"0100007F:{port:04X}"
    waiting = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, queues = fields[1], fields[2], fields[4]
        if local == server and int(queues.split(":")[1], 16) > 0:
            waiting.add(int(remote.split(":")[1], 16))
    return waiting


def runtime_waiting_on_paused_service(step: str, *, timeout: float) -> psutil.Process:
    """The runtime of `step` whose request waits, unread, in a paused service's socket.

    Only a request sent after the service stopped can wait there: a runtime's idle kept-alive
    connection carries no bytes, and calls answered before the pause left nothing behind.
    """
    function, port = STEPS[step]
    name = function_name(step)

    def probe() -> psutil.Process | None:
        waiting = _unread_requests(port)
        for proc in runtimes(name):
            if _calls(proc, port) & waiting:
                return proc
        return None

    return wait_for(f"a {function} runtime waiting on port {port}", probe, timeout=timeout)


def kill(proc: psutil.Process) -> None:
    """SIGKILL a runtime (no clean-up of any kind) and wait until it is gone."""
    proc.kill()

    def gone() -> bool | None:
        try:
            return True if proc.status() == psutil.STATUS_ZOMBIE else None
        except psutil.NoSuchProcess:
            return True

    wait_for(f"runtime {proc.pid} to die", gone, timeout=10.0)
