"""Pre-fork launcher: import the services' common libraries once, then fork each component.

Each FastAPI service (and the simulators' process) spent ~0.65 CPU-s importing the same
FastAPI, pydantic, SQLAlchemy, psycopg, boto3, httpx, redis, structlog and uvicorn modules,
all while LocalStack booted on the same two cores (issue 2: warm `up`). `paylab up` runs
`python -m paylab.devstack.launcher` once instead: it imports PRELOAD, then forks one child per
component, and each child runs `python -m MODULE ARGS` as the plain command would (same
module, arguments, environment, working folder and log, its own session). The launcher writes
each child's PID file with that plain argv, so `status`, `logs`, `down` and a restart with the
recorded argv (features' `start_service`) treat the child like any other process. It forks
more batches while `up` runs (the worker process, after the migrations) and exits with `up`.

Nothing before the fork starts a thread or an event loop, reads settings, configures logging
or creates an AWS client: each child builds its own from its own environment.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import runpy
import select
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import psutil

from paylab.devstack.errors import StackError
from paylab.devstack.process import ProcessManager, ProcessSpec, rotate_big_log, start_banner

NAME = "launcher"
# What every service imports (measured with `python -X importtime`); a missing one is skipped.
# uvicorn imports its loop and protocol modules by name at start-up, so they are named here
# (the `auto` ones import the implementation that uvicorn will pick).
PRELOAD = (
    "asyncio",
    "fastapi",
    "fastapi.routing",
    "fastapi.responses",
    "starlette.middleware.base",
    "pydantic",
    "pydantic_settings",
    "sqlalchemy",
    "sqlalchemy.orm",
    "sqlalchemy.dialects.postgresql.psycopg",
    "psycopg",
    "boto3",
    "botocore.session",
    "botocore.client",
    "httpx",
    "redis",
    "structlog",
    "tenacity",
    "jwt",
    "orjson",
    "uvicorn.main",
    "uvicorn.lifespan.on",
    "uvicorn.loops.auto",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.websockets.auto",
)


def module_args(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    """(module, arguments) of `[this interpreter, "-m", module, *args]`, else None."""
    if len(argv) >= 3 and argv[0] == sys.executable and argv[1] == "-m":
        return argv[2], list(argv[3:])
    return None


def forkable(spec: ProcessSpec) -> bool:
    """True when the launcher can run `spec`: `python -m` with this interpreter, same user."""
    return spec.user is None and module_args(spec.argv) is not None


class Launch:
    """A running launcher: it forks each batch it is sent, until `close`."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log
        self._lock = threading.Lock()
        self._unanswered = 0

    def submit(self, specs: Sequence[ProcessSpec]) -> None:
        """Send a batch to fork; `wait` collects the answer."""
        assert self.process.stdin is not None
        children = [
            {
                "name": spec.name,
                "argv": list(spec.argv),
                "env": dict(spec.env),
                "cwd": str(spec.cwd or Path.cwd()),
            }
            for spec in specs
        ]
        self._send({"children": children})
        self._unanswered += 1

    def wait(self, timeout: float = 60.0) -> None:
        """Return once every batch sent is forked and its PID files written."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while self._unanswered:
            left = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            if not ready:
                raise StackError(
                    f"the launcher did not answer within {timeout:.0f} s; see {self.log}"
                )
            if not self.process.stdout.readline():
                raise StackError(f"the launcher failed; see {self.log}")
            self._unanswered -= 1

    def fork(self, specs: Sequence[ProcessSpec]) -> None:
        """Fork `specs` now and wait for their PID files."""
        with self._lock:
            self.submit(specs)
            self.wait()

    def close(self, timeout: float = 10.0) -> None:
        """Let the launcher exit (its children run on); kill it if it hangs."""
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise StackError(f"the launcher failed; see {self.log}") from None


class ForkingManager(ProcessManager):
    """A ProcessManager whose `start` forks what it can from a running launcher."""

    def __init__(self, manager: ProcessManager, launcher: Launch) -> None:
        super().__init__(manager.run_dir.parent)
        self.launcher = launcher

    def start(self, spec: ProcessSpec) -> psutil.Process:
        """Fork `spec` from the launcher when it can be; else start it plainly."""
        if (proc := self.running(spec.name)) is not None or not forkable(spec):
            return proc or super().start(spec)
        self.prepare(spec)
        self.launcher.fork([spec])
        return self.check_alive(spec.name)


def launch(
    manager: ProcessManager,
    specs: Sequence[ProcessSpec],
    preload: Sequence[str] = PRELOAD,
    *,
    fork: bool = True,
) -> Launch | None:
    """Fork the forkable `specs` that do not run yet from one launcher; start the others plainly.

    Ports are checked here, so a taken one fails `up` with the same message as a plain start.
    The launcher keeps running (for `Launch.fork`) until `Launch.close`; None if nothing forks
    (or `fork` is false: then every spec starts as a plain process).
    """
    todo = [spec for spec in specs if manager.running(spec.name) is None]
    children = [spec for spec in todo if fork and forkable(spec)]
    for spec in todo:
        if spec not in children:
            manager.start(spec)
    if not children:
        return None
    for spec in children:
        manager.prepare(spec)
    log = manager.log_file(NAME)
    rotate_big_log(log)
    with log.open("ab") as out:
        out.write(start_banner(NAME))
        out.flush()
        process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=out,
            start_new_session=True,
        )
    launched = Launch(process, log)
    launched._send({"state_dir": str(manager.run_dir.parent), "preload": list(preload)})
    launched.submit(children)
    return launched


# -- the launcher process -----------------------------------------------------------------------


def main() -> int:
    """Import the common modules, then fork each batch of children read from stdin."""
    config: dict[str, Any] = json.loads(sys.stdin.readline())
    manager = ProcessManager(Path(config["state_dir"]))
    for module in config["preload"]:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            print(f"launcher: not preloaded: {module} ({exc})", file=sys.stderr, flush=True)
    # What the launcher built lives for good in every child: keep it out of the cyclic GC's
    # passes, which would otherwise touch (and so copy) the shared pages.
    gc.collect()
    gc.freeze()
    for line in sys.stdin:
        pids = {}
        for child in json.loads(line)["children"]:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _run_child(child, manager.log_file(child["name"]))
            manager.record(child["name"], pid, child["argv"])
            print(f"launcher: {child['name']} is PID {pid}", file=sys.stderr, flush=True)
            pids[child["name"]] = pid
        print(json.dumps(pids), flush=True)  # the answer `Launch.wait` reads
    return 0


def _run_child(child: dict[str, Any], log: Path) -> NoReturn:
    """In the forked child: become `python -m MODULE ARGS` in its own session; never return."""
    code: int = 1
    try:
        os.setsid()  # its own group, which `stop` signals as a whole
        rotate_big_log(log)
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, start_banner(child["name"]))
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(null)
        with contextlib.suppress(OSError):  # `ps -o comm`, `top`: the component, not "python"
            Path("/proc/self/comm").write_text(child["name"][:15])
        os.chdir(child["cwd"])
        os.environ.update(child["env"])
        parsed = module_args(child["argv"])
        assert parsed is not None, child["argv"]
        module, args = parsed
        # As `python -m` would have it: the working folder first on the path, our arguments.
        sys.path[0] = child["cwd"]
        sys.argv = [module, *args]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # the child's own error: into its log, then exit non-zero
        traceback.print_exc()
    finally:
        atexit._run_exitfuncs()  # what a normal interpreter exit runs (logging's flush)
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
