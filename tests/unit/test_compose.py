"""compose.yaml cannot run here (no Docker engine): check offline that it matches the host stack."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from paylab.core.settings import Settings
from paylab.devstack.localstack import HostLocalStack
from paylab.devstack.process import ProcessManager
from paylab.devstack.stack import SIMULATORS
from paylab.infra.db_bootstrap import RDS_CA_BUNDLE

ROOT = Path(__file__).resolve().parents[2]
# Settings that differ on purpose between a host process and a container.
_HOST_ONLY = {"FILESYSTEM_ROOT", "PAYLAB_LOCALSTACK_STATE"}


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
    assert container["GATEWAY_LISTEN"] == "127.0.0.1:4566"


def test_every_build_context_has_a_dockerfile_with_the_target_named(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        if "build" not in service:
            continue
        build = service["build"]
        build = build if isinstance(build, dict) else {"context": build}
        dockerfile = ROOT / build["context"] / "Dockerfile"
        assert dockerfile.is_file(), name
        if "target" in build:
            assert f" AS {build['target']}\n" in dockerfile.read_text(), name


def test_compose_builds_the_platform_without_the_rds_bundle_the_aws_image_fetches(
    compose: dict[str, Any],
) -> None:
    """The AWS image (the Dockerfile's last stage) verifies Aurora's certificate against RDS's
    CA bundle, fetched at build time; compose stops at the stage before it, so building the
    simulators' image needs no network beyond the package index."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"(?m)^FROM (\S+) AS (\w+)$", dockerfile)
    assert stages[-1] == ("platform", "aws")
    aws = dockerfile.split("FROM platform AS aws", 1)[1]
    assert f"/global/global-bundle.pem {RDS_CA_BUNDLE}\n" in aws
    assert f"chmod 644 {RDS_CA_BUNDLE}" in aws and aws.rstrip().endswith("USER nobody")
    built = [s["build"] for s in compose["services"].values() if "build" in s]
    assert {"context": ".", "target": "platform"} in built


def _listens_on(name: str, service: dict[str, Any]) -> tuple[str, int]:
    """(address, port) a container binds, from its command or environment."""
    if name == "localstack":
        host, port = service["environment"]["GATEWAY_LISTEN"].rsplit(":", 1)
        return host, int(port)
    command: list[str] = service["command"]
    if name == "postgres":
        options = dict(c.split("=", 1) for c in command if "=" in c)
        return options["listen_addresses"], int(options["port"])
    flag = {"redis": "--bind"}.get(name, "--host")
    return command[command.index(flag) + 1], int(command[command.index("--port") + 1])


def test_ports_match_the_architecture_and_bind_loopback(compose: dict[str, Any]) -> None:
    """The host's network, as the host stack: the Lambdas in LocalStack's container and the
    simulators' callbacks reach the services on 127.0.0.1; nothing listens beyond it."""
    fields = Settings.model_fields
    expected = {
        "localstack": fields["localstack_port"].default,
        "postgres": fields["postgres_port"].default,
        "redis": fields["redis_port"].default,
        **{f"sim-{name}": port for name, port in SIMULATORS.items()},
    }
    services = compose["services"]
    assert set(services) == set(expected)
    for name, service in services.items():
        assert service["network_mode"] == "host", name
        assert "ports" not in service, name  # published ports mean nothing on the host network
        assert _listens_on(name, service) == ("127.0.0.1", expected[name]), name


def test_nothing_outlives_the_containers(compose: dict[str, Any]) -> None:
    """LocalStack keeps no state across restarts: neither may the database or Redis."""
    assert "volumes" not in compose
    assert all("volumes" not in service for service in compose["services"].values())
    # The images declare VOLUMEs that would survive a restart: their paths are tmpfs instead.
    assert compose["services"]["postgres"]["tmpfs"] == ["/var/lib/postgresql/data"]
    assert compose["services"]["redis"]["tmpfs"] == ["/data"]
    assert "--appendonly" in (redis := compose["services"]["redis"]["command"])
    assert redis[redis.index("--appendonly") + 1] == "no"


def test_no_credential_literals(compose: dict[str, Any]) -> None:
    password = compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${") and ":?" in password


def test_the_platform_image_copies_what_its_links_point_at() -> None:
    """A link in platform/ whose target the image lacks would build a wheel without it
    (the event schemas come into the package through platform/paylab/event_contracts)."""
    copied = [
        Path(line.split()[1])
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    ]
    links = [p for p in (ROOT / "platform").rglob("*") if p.is_symlink()]
    assert links, "no link under platform/: drop this test"
    for link in links:
        target = link.resolve().relative_to(ROOT)
        assert any(target == c or c in target.parents for c in copied), (link, target)
