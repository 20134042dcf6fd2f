"""Several simulators in one process: each on its own port, all stopped by one SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from paylab.devstack.process import port_in_use, wait_until
from simulators.__main__ import parse
from simulators.registry import NAMES

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(port: int, name: str) -> bool:
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/_sim/health", timeout=1)
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and r.json() == {"status": "ok", "name": name}


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; any still running at the end is killed."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def _start(procs: list[subprocess.Popen[bytes]], *args: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    procs.append(proc)
    return proc


def _alive(proc: subprocess.Popen[bytes]) -> None:
    assert proc.poll() is None, (
        f"exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''!r}"
    )


def test_parse_several_names_pairs_ports_in_order() -> None:
    args = parse(["pse", "bank", "--port", "9101", "--port", "9102"])
    assert (args.names, args.ports, args.name, args.port) == (
        ["pse", "bank"],
        [9101, 9102],
        None,
        None,
    )
    assert parse(["--all"]).names == list(NAMES)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["pse", "bank", "--port", "9101"],
        ["pse", "paypal"],
        ["pse", "bank", "--state-file", "s"],
    ],
)
def test_parse_refuses_what_it_cannot_serve(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse(argv)


def test_two_simulators_answer_and_one_sigterm_stops_both(
    spawn: list[subprocess.Popen[bytes]],
) -> None:
    ports = {"pse": _free_port(), "bank": _free_port()}
    proc = _start(spawn, "pse", "bank", "--port", str(ports["pse"]), "--port", str(ports["bank"]))

    for name, port in ports.items():
        wait_until(
            lambda n=name, p=port: _healthy(p, n),  # type: ignore[misc]
            timeout=30,
            what=f"{name} on {port}",
            alive=lambda: _alive(proc),
        )
    family = psutil.Process(proc.pid).children(recursive=True)

    proc.send_signal(signal.SIGTERM)

    assert proc.wait(15) == 0
    assert not any(child.is_running() for child in family)
    assert not any(port_in_use(port) for port in ports.values())


def test_a_port_taken_stops_the_whole_process(spawn: list[subprocess.Popen[bytes]]) -> None:
    free = _free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = _start(
            spawn, "sms", "bank", "--port", str(free), "--port", str(taken.getsockname()[1])
        )
        assert proc.wait(30) == 1
    assert not port_in_use(free)
