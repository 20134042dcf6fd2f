"""The pre-fork launcher: children run `python -m MODULE ARGS` as plain processes would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from paylab.devstack.errors import StackError
from paylab.devstack.launcher import PRELOAD, ForkingManager, forkable, launch, module_args
from paylab.devstack.process import ProcessManager, ProcessSpec, wait_until
from paylab.devstack.services import HostServices
from paylab.devstack.simulators import HostSimulators

# A child that reports what it sees, then waits for SIGTERM.
_REPORTER = """
import json, os, sys, time
from pathlib import Path
Path(sys.argv[1]).write_text(json.dumps({
    "pid": os.getpid(), "pgid": os.getpgid(0), "sid": os.getsid(0), "cwd": os.getcwd(),
    "argv": sys.argv[1:], "env": os.environ.get("PAYLAB_TEST_LAUNCHED"), "path0": sys.path[0],
    "name": __name__,
}))
print("reporter ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "reporter.py").write_text(_REPORTER)
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom at start-up')\n")
    return tmp_path


def _spec(name: str, workdir: Path, *args: str, module: str = "reporter") -> ProcessSpec:
    return ProcessSpec(
        name=name,
        argv=[sys.executable, "-m", module, *args],
        env={"PAYLAB_TEST_LAUNCHED": name},
        cwd=workdir,
    )


def _report(path: Path) -> dict[str, object]:
    wait_until(path.exists, timeout=20, what=f"{path.name}")
    wait_until(lambda: bool(path.read_text()), timeout=5, what=f"{path.name} written")
    report: dict[str, object] = json.loads(path.read_text())
    return report


def test_children_run_their_module_in_their_own_session(workdir: Path) -> None:
    manager = ProcessManager(workdir / "state")
    specs = [_spec(n, workdir, str(workdir / f"{n}.json"), "--flag") for n in ("one", "two")]

    launched = launch(manager, specs, preload=["json"])
    assert launched is not None
    launched.wait(timeout=20)
    launched.close()

    try:
        for spec in specs:
            report = _report(workdir / f"{spec.name}.json")
            proc = manager.running(spec.name)
            assert proc is not None and proc.pid == report["pid"]
            # Its own session and group, so `stop` signals it (and its children) as a whole.
            assert report["pgid"] == report["pid"] == report["sid"]
            assert report["argv"] == [str(workdir / f"{spec.name}.json"), "--flag"]
            assert report["env"] == spec.name
            assert report["cwd"] == report["path0"] == str(workdir)
            assert report["name"] == "__main__"
            # The PID file keeps the plain command, which starts it again without the launcher.
            recorded = json.loads(manager.pid_file(spec.name).read_text())
            assert recorded["argv"] == list(spec.argv)
            assert proc.name() == spec.name
            log = manager.log_file(spec.name)
            wait_until(lambda log=log: "reporter ready" in log.read_text(), timeout=10, what="log")
            assert f"--- paylab: starting {spec.name} at" in log.read_text()
    finally:
        stopped = [manager.stop(spec.name, timeout=5) for spec in specs]
    assert stopped == [True, True]
    assert all(manager.running(spec.name) is None for spec in specs)


def test_a_running_component_is_left_alone(workdir: Path) -> None:
    manager = ProcessManager(workdir / "state")
    spec = _spec("once", workdir, str(workdir / "once.json"))
    first = launch(manager, [spec], preload=[])
    assert first is not None
    first.wait(timeout=20)
    first.close()
    try:
        pid = _report(workdir / "once.json")["pid"]
        assert launch(manager, [spec], preload=[]) is None
        proc = manager.running("once")
        assert proc is not None and proc.pid == pid
    finally:
        manager.stop("once", timeout=5)


def test_a_child_that_fails_leaves_its_trace_in_its_log(workdir: Path) -> None:
    manager = ProcessManager(workdir / "state")
    launched = launch(manager, [_spec("broken", workdir, module="broken")], preload=[])
    assert launched is not None
    launched.wait(timeout=20)
    launched.close()
    log = manager.log_file("broken")
    wait_until(lambda: "RuntimeError: boom at start-up" in log.read_text(), timeout=10, what="log")
    wait_until(lambda: manager.running("broken") is None, timeout=10, what="the child's exit")


def test_a_taken_port_fails_before_anything_is_forked(workdir: Path) -> None:
    manager = ProcessManager(workdir / "state")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        spec = ProcessSpec(name="svc", argv=[sys.executable, "-m", "reporter"], port=port)
        with pytest.raises(StackError, match=rf"port {port} needed by svc is taken"):
            launch(manager, [spec], preload=[])
    assert not manager.log_file("launcher").exists()
    assert manager.running("svc") is None


def test_a_launcher_that_fails_points_at_its_log(workdir: Path) -> None:
    manager = ProcessManager(workdir / "state")
    # A name the launcher cannot write a PID file for: it fails after forking the child.
    launched = launch(manager, [_spec("no/such/folder", workdir)], preload=[])
    assert launched is not None
    with pytest.raises(StackError, match=r"the launcher failed; see .*launcher\.log"):
        launched.wait(timeout=20)
    launched.close()


def test_a_running_launcher_forks_later_batches(workdir: Path) -> None:
    manager = ProcessManager(workdir / "state")
    launched = launch(manager, [_spec("early", workdir, str(workdir / "early.json"))], preload=[])
    assert launched is not None
    try:
        launched.wait(timeout=20)
        forking = ForkingManager(manager, launched)
        late = forking.start(_spec("late", workdir, str(workdir / "late.json")))
        # Forked by the same launcher, recorded before `start` returned.
        assert late.ppid() == launched.process.pid
        assert manager.running("late") == late and _report(workdir / "late.json")["pid"] == late.pid
        assert forking.start(_spec("late", workdir)) == late  # already running: left alone
        plain = forking.start(
            ProcessSpec(name="plain", argv=[sys.executable, "-c", "import time; time.sleep(60)"])
        )
        assert plain.ppid() == os.getpid()
    finally:
        launched.close()
        for name in ("early", "late", "plain"):
            manager.stop(name, timeout=5)
    assert launched.process.returncode == 0


def test_what_cannot_be_forked_starts_as_a_plain_process(workdir: Path) -> None:
    manager = ProcessManager(workdir / "state")
    report = workdir / "plain.json"
    spec = ProcessSpec(
        name="plain", argv=[sys.executable, str(workdir / "reporter.py"), str(report)]
    )
    assert not forkable(spec)
    assert launch(manager, [spec], preload=[]) is None
    try:
        proc = manager.running("plain")
        assert proc is not None and _report(report)["pid"] == proc.pid
        assert proc.ppid() == os.getpid()  # started by us, not by a launcher
    finally:
        manager.stop("plain", timeout=5)


def test_only_this_interpreter_running_a_module_is_forkable() -> None:
    assert module_args([sys.executable, "-m", "uvicorn", "--port", "1"]) == (
        "uvicorn",
        ["--port", "1"],
    )
    assert module_args(["/other/python", "-m", "uvicorn"]) is None
    assert module_args([sys.executable, "-c", "pass"]) is None
    assert module_args([sys.executable, "-m"]) is None
    as_postgres = ProcessSpec(name="x", argv=[sys.executable, "-m", "x"], user="postgres")
    assert not forkable(as_postgres)


def test_preloading_starts_no_thread_and_reads_no_paylab_state() -> None:
    """A thread, settings cache or AWS session made before the fork would leak into children."""
    probe = (
        "import importlib, json, sys, threading\n"
        f"for m in {list(PRELOAD)!r}: importlib.import_module(m)\n"
        "import boto3\n"
        "print(json.dumps({'threads': threading.active_count(),\n"
        "  'paylab': sorted(m for m in sys.modules if m.startswith('paylab')),\n"
        "  'boto3_session': boto3.DEFAULT_SESSION is not None}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert state == {"threads": 1, "paylab": [], "boto3_session": False}


def test_the_services_and_the_simulators_are_forkable(tmp_path: Path) -> None:
    """`up` forks only `python -m` commands of this interpreter: the stack's must stay so."""
    root = Path(__file__).resolve().parents[3]
    manager = ProcessManager(tmp_path)
    services = HostServices(root, manager)
    specs = services.specs(services.available())
    simulators = HostSimulators(root, manager).spec()
    assert len(specs) == 7 and simulators is not None
    assert all(forkable(spec) for spec in [*specs, simulators])
    # Simulators served elsewhere (compose, PAYLAB_EXTERNAL_SIMULATORS) are never started.
    assert HostSimulators(root, manager, external=True).spec() is None


def test_with_fork_off_every_spec_starts_as_a_plain_process(workdir: Path) -> None:
    manager = ProcessManager(workdir / "state")
    spec = _spec("unforked", workdir, str(workdir / "unforked.json"))
    assert forkable(spec)
    assert launch(manager, [spec], preload=[], fork=False) is None
    try:
        proc = manager.running("unforked")
        assert proc is not None and proc.ppid() == os.getpid()
        assert _report(workdir / "unforked.json")["pid"] == proc.pid
    finally:
        manager.stop("unforked", timeout=5)
