"""compose.yaml cannot run here (no Docker engine): check offline that it matches the host stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from paylab.core.settings import Settings
from paylab.devstack.localstack import HostLocalStack
from paylab.devstack.process import ProcessManager
from paylab.devstack.stack import SIMULATORS

ROOT = Path(__file__).resolve().parents[2]
# Settings that differ on purpose between a host process and a container.
_HOST_ONLY = {"GATEWAY_LISTEN", "LOCALSTACK_HOST", "FILESYSTEM_ROOT", "PAYLAB_LOCALSTACK_STATE"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_localstack_container_runs_with_the_host_settings(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    host = HostLocalStack(ROOT, tmp_path, 4566, ProcessManager(tmp_path)).environment()
    container = compose["services"]["localstack"]["environment"]
    assert {k: v for k, v in host.items() if k not in _HOST_ONLY} == {
        k: v for k, v in container.items() if k not in _HOST_ONLY
    }
    assert container["GATEWAY_LISTEN"] == "0.0.0.0:4566"


def test_every_build_context_has_a_dockerfile(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").is_file(), name


def test_ports_match_the_architecture_and_bind_loopback(compose: dict[str, Any]) -> None:
    # The defaults (ARCHITECTURE §1), whatever this shell's PAYLAB_*_PORT say.
    fields = Settings.model_fields
    expected = {
        "localstack": fields["localstack_port"].default,
        "postgres": fields["postgres_port"].default,
        "redis": fields["redis_port"].default,
        **{f"sim-{name}": port for name, port in SIMULATORS.items()},
    }
    published = {
        name: int(service["ports"][0].split(":")[-1])
        for name, service in compose["services"].items()
        if service.get("ports")
    }
    assert published == expected
    for service in compose["services"].values():
        for mapping in service.get("ports", []):
            assert mapping.startswith("127.0.0.1:"), mapping


def test_no_credential_literals(compose: dict[str, Any]) -> None:
    password = compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${") and ":?" in password
