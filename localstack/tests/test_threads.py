"""threads.py: finished threads are joined, so their stacks (two memory maps each) come back."""

import json
import threading
from pathlib import Path

from localstack.utils.threads import TMP_THREADS

from conftest import ROLE, LocalStack, client, wait_until
from paylab_localstack import threads


def _maps(pid: int | str = "self") -> int:
    return len(Path(f"/proc/{pid}/maps").read_text().splitlines())


def test_finished_threads_kept_by_tmp_threads_give_their_stacks_back() -> None:
    done = threading.Barrier(51)
    kept = []
    for _ in range(50):
        thread = threading.Thread(target=done.wait, daemon=True)
        thread.start()
        TMP_THREADS.append(thread)  # what Step Functions does with each execution's worker
        kept.append(thread)
    done.wait()
    for thread in kept:  # ended, but not joined: their stacks are still mapped
        while thread.is_alive():
            thread._handle.join(0.01)  # type: ignore[attr-defined]
    before = _maps()
    assert threads.join_finished_threads() >= 50
    after = _maps()
    assert before - after >= 90, (before, after)  # 2 maps a thread, glibc may cache a few
    assert not any(t in TMP_THREADS for t in kept)


def test_what_tmp_threads_holds_besides_threads_stays_and_does_not_stop_the_reaping() -> None:
    import localstack.utils.asyncio  # appends its thread pool to TMP_THREADS when imported

    pool = localstack.utils.asyncio.THREAD_POOL
    assert pool in TMP_THREADS and not isinstance(pool, threading.Thread)
    thread = threading.Thread(target=lambda: None, daemon=True)
    thread.start()
    TMP_THREADS.append(thread)
    while thread.is_alive():
        thread._handle.join(0.01)  # type: ignore[attr-defined]
    threads.join_finished_threads()
    assert thread not in TMP_THREADS
    assert pool in TMP_THREADS


def test_a_thread_not_started_yet_stays_until_it_has_run() -> None:
    thread = threading.Thread(target=lambda: None, daemon=True)
    TMP_THREADS.append(thread)  # as Step Functions does, right before start()
    threads.join_finished_threads()
    assert thread in TMP_THREADS
    thread.start()
    thread.join()
    threads.join_finished_threads()
    assert thread not in TMP_THREADS


def test_a_running_thread_is_left_alone() -> None:
    release = threading.Event()
    thread = threading.Thread(target=release.wait, daemon=True)
    thread.start()
    TMP_THREADS.append(thread)
    try:
        threads.join_finished_threads()
        assert thread.is_alive() and thread in TMP_THREADS
    finally:
        release.set()
        thread.join()
        threads.join_finished_threads()
    assert thread not in TMP_THREADS


def test_step_functions_executions_do_not_keep_their_threads_stacks(
    localstack: LocalStack,
) -> None:
    sfn = client("stepfunctions")
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    machine = sfn.create_state_machine(
        name="t-reaped", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    arns = [sfn.start_execution(stateMachineArn=machine)["executionArn"] for _ in range(3)]
    assert wait_until(
        lambda: all(sfn.describe_execution(executionArn=a)["status"] == "SUCCEEDED" for a in arns),
        timeout=15,
    )
    baseline = _maps(localstack.pid)
    arns = [sfn.start_execution(stateMachineArn=machine)["executionArn"] for _ in range(100)]
    assert wait_until(
        lambda: all(sfn.describe_execution(executionArn=a)["status"] == "SUCCEEDED" for a in arns),
        timeout=90,
    )
    # Unreaped, each execution leaves at least its worker's stack: 200 maps or more.
    reaped = threads.REAP_INTERVAL_S * 5
    assert wait_until(lambda: _maps(localstack.pid) <= baseline + 40, timeout=reaped)
    # Every round ran to its end (a failed one logs this and leaves TMP_THREADS as it was).
    assert "paylab thread reaper: one round failed" not in localstack.log_tail(10**7)
