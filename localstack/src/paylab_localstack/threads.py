"""Finished threads give their stacks back: LocalStack on Python 3.13 otherwise runs out of maps.

Python 3.13 creates threads joinable (gh-114271): a finished thread's stack (8 MiB of address
space and a guard page: two memory maps) is released only when the thread is joined or its
`Thread` object is freed. LocalStack keeps `Thread` objects of work that has ended: every Step
Functions execution appends its worker to `localstack.utils.threads.TMP_THREADS` (a list only
read at shutdown), and other finished threads stay referenced elsewhere. Measured on the local
stack: ~9 threads per four-task execution, 18 maps; the kernel's `vm.max_map_count` (65,530)
was reached after ~3,600 executions, and every later thread start failed with "can't start new
thread" (StartExecution, CreateFunction and Lambda tasks answered InternalError).

A reaper thread joins every started thread that has finished (joining one is immediate and
frees its stack) and drops finished threads from TMP_THREADS, every REAP_INTERVAL_S. TMP_THREADS
holds other things to stop at shutdown too (`localstack.utils.asyncio` appends its thread pool
when imported): those stay. (Asking them `is_alive()` failed every round, so no finished thread
was ever dropped: TMP_THREADS kept every execution's worker and all it referenced.)
"""

import contextlib
import logging
import threading

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)

REAP_INTERVAL_S = 2.0
_stop = threading.Event()
_reaper: threading.Thread | None = None


def join_finished_threads() -> int:
    """Join each started thread that has ended, forget the ended ones in TMP_THREADS; how many.

    Entries of TMP_THREADS that are not threads (a thread pool) are left where they are.

    `threading._dangling` is the weak set of every live `Thread` object; a thread still
    running or never started is left alone. Joining a thread twice is harmless.
    """
    from localstack.utils.threads import TMP_THREADS

    joined = 0
    for thread in list(threading._dangling):  # type: ignore[attr-defined]
        if thread is threading.current_thread() or thread.is_alive():
            continue
        if thread._started.is_set():  # type: ignore[attr-defined]
            thread.join()
            joined += 1
    ended = [
        t
        for t in TMP_THREADS
        # Some callers append a thread before they start it: not ended yet, it stays.
        if isinstance(t, threading.Thread) and t._started.is_set() and not t.is_alive()  # type: ignore[attr-defined]
    ]
    for thread in ended:
        with contextlib.suppress(ValueError):  # gone already (shutdown cleans up too)
            TMP_THREADS.remove(thread)  # one atomic step: appends meanwhile are kept
    return joined


def _reap_forever() -> None:
    while not _stop.wait(REAP_INTERVAL_S):
        try:
            join_finished_threads()
        except Exception:  # the reaper must outlive any surprise, and say so
            LOG.exception("paylab thread reaper: one round failed")


def start_reaper() -> threading.Thread:
    """Start the reaper once per process (a daemon thread)."""
    global _reaper
    if _reaper is None or not _reaper.is_alive():
        _stop.clear()
        _reaper = threading.Thread(target=_reap_forever, name="paylab-thread-reaper", daemon=True)
        _reaper.start()
    return _reaper


def stop_reaper() -> None:
    """Stop the reaper (it ends within REAP_INTERVAL_S; a round in progress finishes)."""
    _stop.set()


@hooks.on_infra_start(priority=100)
def paylab_thread_reaper() -> None:
    """Join finished threads in the background (a resource fix, not a perf patch: always on)."""
    start_reaper()
    LOG.debug("paylab thread reaper started (every %.1f s)", REAP_INTERVAL_S)


@hooks.on_infra_shutdown(priority=100)
def paylab_stop_thread_reaper() -> None:
    """Stop reaping before LocalStack's shutdown walks TMP_THREADS (a removal would skip one)."""
    stop_reaper()
