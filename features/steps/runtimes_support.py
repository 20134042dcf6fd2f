"""The SAGA's Lambda runtime processes on the running stack: find the one inside a step, kill it.

Our LocalStack runs each Lambda execution environment as a host process it spawned itself
(localstack/src/paylab_localstack/lambda_executor): a child of the LocalStack process whose
environment names the function (AWS_LAMBDA_FUNCTION_NAME) and LocalStack (PAYLAB_PARENT_PID).
A runtime is inside a step while its connection to the service the step calls has a request
waiting for its answer: the Lambdas keep one connection per service alive between calls
(lambdas/_services.py), so an idle runtime holds one too, and only the kernel's record of the
last data sent and received on it (`ss -ti`: lastsnd, lastrcv) tells a call from a pause.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import psutil
from waiting_support import wait_for

from paylab.core.aws import client as aws_client
from paylab.core.settings import get_settings
from paylab.devstack.process import ProcessManager

#: SAGA step -> (the Lambda's name after the stack's, the port of the service it calls).
STEPS = {
    "ReserveFunds": ("reserve-funds", 8003),
    "ProcessPayment": ("process-payment", 8002),
    "CaptureFunds": ("capture-funds", 8003),
    "ReleaseFunds": ("release-funds", 8003),
}


def function_name(step: str) -> str:
    """The deployed function of a SAGA step (the template names it `<stack>-<suffix>`)."""
    return f"{get_settings().stack_name}-{STEPS[step][0]}"


def lambda_env(step: str) -> dict[str, str]:
    """The environment variables the step's Lambda is deployed with."""
    config = aws_client("lambda").get_function_configuration(FunctionName=function_name(step))
    return dict(config["Environment"]["Variables"])


def set_lambda_env(step: str, env: dict[str, str]) -> None:
    """Deploy the step's Lambda with `env` (when it differs) and wait until the update is
    done: invocations after this run the new configuration in new runtimes."""
    if lambda_env(step) == env:
        return
    lam = aws_client("lambda")
    lam.update_function_configuration(
        FunctionName=function_name(step), Environment={"Variables": env}
    )
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=function_name(step), WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )


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


def _waiting_for_answers(port: int) -> dict[int, float]:
    """Local port -> seconds since the request was sent, for each connection to 127.0.0.1:`port`
    whose last request has had no answer yet (nothing received since the last send)."""
    out = subprocess.run(
        ["ss", "-tinH", "state", "established", f"( dport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    # One line per connection, then its details on indented lines.
    connections: list[tuple[str, str]] = []
    for line in out.splitlines():
        if line[:1].isspace() and connections:
            connections[-1] = (connections[-1][0], connections[-1][1] + line)
        elif line.strip():
            connections.append((line, ""))
    waiting: dict[int, float] = {}
    for head, info in connections:
        local = head.split()[2]
        times = dict(re.findall(r"\b(lastsnd|lastrcv|bytes_received):(\d+)", info))
        # ss leaves out a time that is 0 (within the kernel's tick): it happened just now.
        sent = int(times.get("lastsnd", 0))
        # A new connection that never received data counts from its handshake: waiting.
        received = int(times.get("lastrcv", 0)) if "bytes_received" in times else 2**31
        if sent < received:
            waiting[int(local.rsplit(":", 1)[1])] = sent / 1000
    return waiting


def busy_runtime(step: str, *, busy_for: float, timeout: float) -> psutil.Process:
    """The runtime of `step` that has been waiting `busy_for` seconds for one call's answer.

    Other payments' calls of the same step finish in milliseconds; the scenario makes its own
    call slow (a partner fault scoped to its payment), so the call that lasts is its own. An
    idle runtime's kept-alive connection got its last answer: it is never taken for a call.
    """
    function, port = STEPS[step]
    name = function_name(step)

    def probe() -> psutil.Process | None:
        waiting = _waiting_for_answers(port)
        for proc in runtimes(name):
            if any(waiting.get(lport, 0.0) >= busy_for for lport in _calls(proc, port)):
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
