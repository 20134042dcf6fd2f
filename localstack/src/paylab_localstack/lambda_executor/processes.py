"""Spawn, bound and kill the runtime processes of all execution environments."""

import atexit
import logging
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

LOG = logging.getLogger(__name__)

MAX_PROCESSES_ENV = "PAYLAB_LAMBDA_MAX_PROCESSES"
# The payment SAGA keeps 4-5 functions hot, each with as many environments as its peak
# concurrency (LocalStack starts one per concurrent invoke). At 16, eight clients already
# evicted warm runtimes: every respawn re-imported boto3 and re-read the internal credential
# (GetSecretValue 0.1-0.8 per payment). At 32, 32 clients needed more runtimes than the bound
# across the SAGA's functions and thrashed: 3 cold starts per payment (0.74 CPU-s of runtimes
# per payment, 1.56 payments/s); at 96 none after warm-up (6.44 payments/s). A runtime takes
# ~44 MiB RSS / ~33 MiB PSS, so the bound costs up to ~3 GiB PSS at peak load, only while the
# load lasts: idle runtimes still go after LAMBDA_KEEPALIVE_MS (LocalStack's, 10 min).
DEFAULT_MAX_PROCESSES = 96


class _Spawner:
    """Runs every Popen on one long-lived thread.

    The children ask for PR_SET_PDEATHSIG, which fires when the *thread* that forked them exits,
    not the process. LocalStack starts environments from pool threads that come and go, so forking
    from them would kill healthy runtimes; this thread lives as long as LocalStack does.
    """

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[
            tuple[Callable[[], subprocess.Popen[bytes]], Future[subprocess.Popen[bytes]]]
        ] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _run(self) -> None:
        while True:
            create, future = self._requests.get()
            try:
                future.set_result(create())
            except BaseException as exc:  # hand every failure back to the caller's thread
                future.set_exception(exc)

    def spawn(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a process from the spawner thread and return it."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="paylab-lambda-spawner", daemon=True
                )
                self._thread.start()
        future: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put((lambda: subprocess.Popen(args, **kwargs), future))
        return future.result()


SPAWNER = _Spawner()


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group of a runtime (its own children included) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except PermissionError:  # pid reused by a process we do not own: only reap ours
        LOG.debug("Cannot signal process group %s", proc.pid)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        LOG.warning("Lambda runtime process %s did not exit after SIGKILL", proc.pid)


class Evictable(Protocol):
    """A slot holder that can give its process up when idle."""

    last_used: float

    def try_evict(self) -> bool:
        """Kill the process if it is idle right now; True if it did."""
        ...

    def kill_process(self) -> None:
        """Kill the process unconditionally and give the slot back."""
        ...


class ProcessSlots:
    """Bounds live runtime processes; at the bound, the least recently used idle one is evicted."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._cond = threading.Condition(threading.RLock())
        self._holders: set[Evictable] = set()

    def acquire(self, holder: Evictable, deadline: float) -> None:
        """Take a slot for holder, evicting idle holders or waiting until the monotonic deadline."""
        with self._cond:
            while holder not in self._holders:
                if len(self._holders) < self.limit:
                    self._holders.add(holder)
                    return
                # Evicting releases the victim's slot (re-entrant lock) and wakes no one else.
                for victim in sorted(self._holders, key=lambda h: h.last_used):
                    if victim.try_evict():
                        break
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError(
                            f"All {self.limit} Lambda runtime processes are busy "
                            f"(raise {MAX_PROCESSES_ENV} to allow more)."
                        )
                    self._cond.wait(remaining)

    def release(self, holder: Evictable) -> None:
        """Give back holder's slot, if it has one."""
        with self._cond:
            if holder in self._holders:
                self._holders.discard(holder)
                self._cond.notify()

    def notify_idle(self) -> None:
        """Wake environments waiting for a slot: a holder just became idle, hence evictable."""
        with self._cond:
            self._cond.notify_all()

    def holders(self) -> list[Evictable]:
        """A snapshot of the current slot holders."""
        with self._cond:
            return list(self._holders)


SLOTS = ProcessSlots(int(os.environ.get(MAX_PROCESSES_ENV) or DEFAULT_MAX_PROCESSES))


def kill_all() -> None:
    """Kill every live runtime process (LocalStack shutdown; SIGKILL is covered by PDEATHSIG)."""
    for holder in SLOTS.holders():
        try:
            holder.kill_process()
        except Exception as exc:  # keep going: one stuck process must not leave the others alive
            LOG.warning("Could not kill a Lambda runtime process: %s", exc)


atexit.register(kill_all)
