"""`paylab deploy` refuses what it cannot deploy in one line, before touching AWS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from paylab.cli import app
from paylab.core.settings import get_settings

GOOD = [
    "--image", "1.dkr.ecr.us-east-1.amazonaws.com/paylab:1",
    "--pse-url", "https://pse.example",
    "--bank-url", "https://bank.example",
    "--antifraud-url", "https://antifraud.example",
    "--sms-url", "https://sms.example",
    "--sender-email", "pagos@example.co",
    "--checkout-return-url", "https://shop.example/return",
]  # fmt: skip


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """AWS as the target, with credentials that go nowhere: no call may succeed."""
    monkeypatch.setenv("PAYLAB_TARGET", "aws")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # A port nothing listens on: the first AWS call fails at once, offline.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("COLUMNS", "400")  # error boxes on one line each
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _run(runner: CliRunner, args: list[str]) -> tuple[int, str]:
    result = runner.invoke(app, ["deploy", *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, " ".join(result.output.split())


def test_the_local_target_is_deployed_by_up(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYLAB_TARGET", "local")
    get_settings.cache_clear()
    code, output = _run(runner, GOOD)
    assert code == 2 and "set PAYLAB_TARGET=aws" in output


def test_a_bad_setting_is_named(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYLAB_TARGET", "prod")
    get_settings.cache_clear()
    code, output = _run(runner, GOOD)
    assert code == 2 and "invalid PAYLAB_TARGET" in output


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--pse-url", "http://pse.example", "must be an https:// URL"),
        ("--sender-email", "pagos@example", "is not an address"),
    ],
)
def test_bad_options_are_refused_before_anything_is_deployed(
    runner: CliRunner, option: str, value: str, message: str
) -> None:
    args = list(GOOD)
    args[args.index(option) + 1] = value
    code, output = _run(runner, args)
    assert code == 2 and message in output


def test_aws_out_of_reach_is_one_line_and_exit_1(runner: CliRunner) -> None:
    code, output = _run(runner, GOOD)
    assert code == 1 and "deployment failed: Could not connect to the endpoint URL" in output


def test_a_ceiling_below_the_floor_is_refused(runner: CliRunner) -> None:
    code, output = _run(runner, [*GOOD, "--desired-count", "4", "--max-count", "3"])
    assert code == 2 and "--max-count 3 is below --desired-count 4" in output


@pytest.mark.parametrize("count", ["0", "3"])
def test_nat_gateways_are_one_or_two(runner: CliRunner, count: str) -> None:
    code, output = _run(runner, [*GOOD, "--nat-gateways", count])
    assert code == 2 and "Invalid value for '--nat-gateways'" in output
