"""LocalStack on the host: its own Python 3.13 environment, our plugins, loopback-only settings."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx

from paylab.devstack.errors import StackError
from paylab.devstack.probes import http_ok
from paylab.devstack.process import ProcessManager, ProcessSpec, listens_on, wait_until

NAME = "localstack"
# A loopback port nothing listens on: LocalStack's analytics and license calls fail fast there.
_CLOSED_ENDPOINT = "http://127.0.0.1:9"
# Our plugins (localstack/), chosen by LocalStack's own plugin settings.
PLUGIN_SETTINGS = {
    "PROVIDER_OVERRIDE_DYNAMODB": "paylab_moto",
    "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "paylab_moto",
    "LAMBDA_RUNTIME_EXECUTOR": "paylab_host",
}


def find_python313() -> str:
    """A working Python 3.13: PAYLAB_PYTHON313, PATH, or pyenv's versions folder."""
    candidates: list[str] = []
    if explicit := os.environ.get("PAYLAB_PYTHON313"):
        candidates.append(explicit)
    if on_path := shutil.which("python3.13"):
        candidates.append(on_path)
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/3.13*/bin/python3.13"), reverse=True)
    for candidate in candidates:
        try:
            out = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.stdout.strip() == "True":
            return candidate
    raise StackError(
        "Python 3.13 not found (LocalStack needs it): install it (e.g. `pyenv install 3.13`) "
        "or point PAYLAB_PYTHON313 at its interpreter"
    )


class HostLocalStack:
    """Builds, starts and checks LocalStack as a host process under `.paylab/localstack`."""

    def __init__(self, root: Path, state_dir: Path, port: int, manager: ProcessManager) -> None:
        self.source = root / "localstack"
        self.home = state_dir / "localstack"
        self.venv = self.home / "venv"
        self.port = port
        self.manager = manager

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _digest(self, files: list[Path]) -> str:
        digest = hashlib.sha256()
        for path in files:
            if path.is_file():
                digest.update(str(path.relative_to(self.source)).encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def lock_fingerprint(self) -> str:
        """Hash of the pinned lock: a change reinstalls LocalStack itself."""
        return self._digest(
            [self.source / "requirements.lock", self.source / "requirements-test.txt"]
        )

    def plugin_fingerprint(self) -> str:
        """Hash of our plugin package: a change reinstalls only the plugins (seconds)."""
        files = [self.source / "pyproject.toml", *sorted(self.source.glob("src/**/*.py"))]
        return self._digest(files)

    def ensure_environment(self, progress: Callable[[str], None]) -> None:
        """Create or refresh the LocalStack virtual environment from the pinned lock."""
        lock_stamp = self.venv / ".paylab-lock"
        plugin_stamp = self.venv / ".paylab-plugins"
        lock, plugins = self.lock_fingerprint(), self.plugin_fingerprint()
        lock_ok = lock_stamp.exists() and lock_stamp.read_text() == lock
        if lock_ok and plugin_stamp.exists() and plugin_stamp.read_text() == plugins:
            return
        log = self.home / "install.log"
        self.home.mkdir(parents=True, exist_ok=True)
        pip = [str(self.python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        if not lock_ok:
            python = find_python313()
            if self.venv.exists():
                shutil.rmtree(self.venv)  # a stale or half-built environment: start clean
            progress(f"creating the LocalStack environment with {python}")
            self._run([python, "-m", "venv", str(self.venv)], log)
            progress("installing localstack-core from localstack/requirements.lock (~1 min)")
            self._run([*pip, "-r", str(self.source / "requirements.lock")], log)
            self._run([*pip, "-r", str(self.source / "requirements-test.txt")], log)
            lock_stamp.write_text(lock)
        progress("installing Paylab's LocalStack plugins")
        plugin_stamp.unlink(missing_ok=True)
        self._run(
            [*pip, "--no-deps", "--no-build-isolation", "--force-reinstall", str(self.source)], log
        )
        self._run(
            [str(self.python), "-c", "import localstack.runtime.main, paylab_localstack"], log
        )
        plugin_stamp.write_text(plugins)

    def _run(self, argv: list[str], log: Path) -> None:
        with log.open("a") as out:
            result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            tail = log.read_text().strip().splitlines()[-3:]
            raise StackError(
                f"building the LocalStack environment failed ({argv[-1]}): "
                f"{' / '.join(tail)}; full log: {log}"
            )

    def environment(self) -> dict[str, str]:
        """LocalStack's settings for a loopback-only host process with no outbound calls."""
        return {
            "OVERRIDE_IN_DOCKER": "0",  # it would otherwise believe it runs in a container
            "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
            # Ours (localstack/): binds only GATEWAY_LISTEN and keeps connections open; the
            # default server binds 0.0.0.0 and hypercorn closes every connection.
            "GATEWAY_SERVER": "paylab_twisted",
            "LOCALSTACK_HOST": f"127.0.0.1:{self.port}",
            "FILESYSTEM_ROOT": str(self.home / "fs"),
            "DNS_ADDRESS": "0",
            "DISABLE_EVENTS": "1",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "SKIP_INFRA_DOWNLOADS": "1",
            "API_ENDPOINT": _CLOSED_ENDPOINT,
            "ANALYTICS_API": _CLOSED_ENDPOINT,
            # Per-message CloudWatch metrics pile up on an unbounded pool (MEASUREMENTS.md).
            "SQS_DISABLE_CLOUDWATCH_METRICS": "1",
            # Queue URLs on the gateway's own host and port, not sqs.<region>.<host> names
            # that only resolve through LocalStack's DNS (which we turn off).
            "SQS_ENDPOINT_STRATEGY": "path",
            "PAYLAB_LOCALSTACK_STATE": str(self.home),
            **PLUGIN_SETTINGS,
        }

    def start(self) -> bool:
        """Start LocalStack unless it runs; True when this call started it (its state is empty)."""
        if self.manager.running(NAME) is not None:
            return False
        if not self.python.exists():
            raise StackError(f"the LocalStack environment is missing at {self.venv}")
        (self.home / "fs").mkdir(parents=True, exist_ok=True)
        self.manager.start(
            ProcessSpec(
                name=NAME,
                argv=[str(self.python), "-m", "localstack.runtime.main"],
                env=self.environment(),
                cwd=self.home,
                port=self.port,
            )
        )
        return True

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_until(
            self.healthy,
            timeout=timeout,
            what=f"LocalStack on {self.url}",
            alive=lambda: self.manager.check_alive(NAME),
        )
        proc = self.manager.check_alive(NAME)
        # LocalStack on a taken port says "Ready" without listening: make sure it is ours.
        if not listens_on(proc, self.port):
            raise StackError(
                f"something other than our LocalStack (PID {proc.pid}) answers on {self.url}"
            )

    def healthy(self) -> bool:
        return http_ok(f"{self.url}/_localstack/health", timeout=2)

    def health(self) -> dict[str, object]:
        """LocalStack's own health document (services and their states)."""
        response = httpx.get(f"{self.url}/_localstack/health", timeout=2)
        response.raise_for_status()
        result: dict[str, object] = response.json()
        return result
