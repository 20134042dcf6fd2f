"""Managed processes: tracked by PID and start time, stopped with their whole group."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from paylab.devstack.errors import StackError
from paylab.devstack.process import ProcessManager, ProcessSpec, ensure_port_free, wait_until

# A parent that starts a child in its own group and then waits: stop() must take both.
_PARENT = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def test_start_then_stop_leaves_no_process_of_the_group(tmp_path: Path) -> None:
    manager = ProcessManager(tmp_path)
    proc = manager.start(ProcessSpec(name="parent", argv=[sys.executable, "-c", _PARENT]))
    log = manager.log_file("parent")
    wait_until(lambda: log.read_text().strip().splitlines()[-1].isdigit(), timeout=10, what="child")
    child = psutil.Process(int(log.read_text().strip().splitlines()[-1]))
    assert manager.running("parent") is not None

    assert manager.stop("parent", timeout=5) is True

    assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert manager.running("parent") is None
    assert manager.stop("parent") is False


def test_a_reused_pid_is_not_mistaken_for_our_process(tmp_path: Path) -> None:
    manager = ProcessManager(tmp_path)
    manager.run_dir.mkdir(parents=True)
    me = psutil.Process()
    manager.pid_file("ghost").write_text(
        json.dumps({"pid": me.pid, "created": me.create_time() - 1000, "argv": []})
    )
    assert manager.running("ghost") is None


def test_starting_on_a_taken_port_names_the_owner(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(StackError, match=rf"port {port} needed by thing is taken by PID"):
            ensure_port_free(port, "thing")
        with pytest.raises(StackError, match="is taken"):
            ProcessManager(tmp_path).start(
                ProcessSpec(name="thing", argv=[sys.executable, "-c", "pass"], port=port)
            )


def test_wait_until_reports_what_it_waited_for() -> None:
    with pytest.raises(StackError, match="timed out after 0 s waiting for the moon"):
        wait_until(lambda: False, timeout=0.1, what="the moon")


def test_wait_until_stops_early_when_the_process_died(tmp_path: Path) -> None:
    manager = ProcessManager(tmp_path)
    with pytest.raises(StackError, match="exited during start-up"):
        wait_until(lambda: False, timeout=10, what="x", alive=lambda: manager.check_alive("none"))


def test_every_port_of_a_spec_must_be_free(tmp_path: Path) -> None:
    with socket.socket() as sock, socket.socket() as other:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        other.bind(("127.0.0.1", 0))
        free, taken = other.getsockname()[1], sock.getsockname()[1]
        other.close()
        spec = ProcessSpec(name="many", argv=[sys.executable, "-c", "pass"], ports=(free, taken))
        assert spec.all_ports() == [free, taken]
        with pytest.raises(StackError, match=rf"port {taken} needed by many is taken"):
            ProcessManager(tmp_path).start(spec)
        assert ProcessManager(tmp_path).running("many") is None


def test_a_zombie_left_in_the_group_is_neither_killed_nor_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stopped process itself often stays a zombie until its parent reaps it: waiting for
    it lasted the whole leftovers timeout on every component of `down`."""
    import subprocess

    from paylab.devstack import process

    child = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    zombie = psutil.Process(child.pid)
    wait_until(lambda: zombie.status() == psutil.STATUS_ZOMBIE, timeout=10, what="a zombie")
    waited: list[psutil.Process] = []

    def record(procs: list[psutil.Process], timeout: float) -> tuple[list[Any], list[Any]]:
        waited.extend(procs)
        return [], []

    monkeypatch.setattr(psutil, "wait_procs", record)
    process._kill_group_leftovers(child.pid)  # its own session: the group is its pid
    assert [p.pid for p in waited] == []
    child.wait()
