"""The simulator CLI commands, against a real simulator on a loopback port."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import typer
from typer.testing import CliRunner

from paylab import cli_sim
from simulators import bank
from simulators.testing import serve

pytestmark = pytest.mark.timeout(60)
runner = CliRunner()
AUTH = {
    "amount": "1000.00",
    "reference": "r",
    "card": {"number": "4575623182290326", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
}


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    cli_sim.register(a)
    return a


@pytest.fixture
def bank_url(free_port: int) -> Iterator[str]:
    with serve(bank.create_app(), free_port) as url:
        yield url


def run(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_faults_add_list_clear(app: typer.Typer, bank_url: str) -> None:
    code, out = run(
        app,
        "faults",
        "add",
        "bank",
        "--url",
        bank_url,
        "--path",
        "/v1/authorizations",
        "--method",
        "POST",
        "--error",
        "503",
        "--next",
        "2",
        "--body",
        "card.number=4575*",
    )
    assert code == 0, out
    assert "added fault f1" in out
    rule = httpx.get(f"{bank_url}/_sim/faults/f1").json()
    assert rule["effect"] == {"type": "error", "status": 503, "body": None}
    assert rule["when"]["next"] == 2 and rule["match"]["body"] == {"card.number": "4575*"}
    assert httpx.post(f"{bank_url}/v1/authorizations", json=AUTH).status_code == 503
    code, out = run(app, "faults", "list", "bank", "--url", bank_url)
    assert code == 0 and "f1" in out and "error" in out
    code, out = run(app, "faults", "clear", "bank", "--url", bank_url)
    assert code == 0 and "removed 1 fault rule(s)" in out
    assert httpx.get(f"{bank_url}/_sim/faults").json()["faults"] == []


def test_callback_effect_and_clear_one(app: typer.Typer, bank_url: str) -> None:
    assert run(app, "faults", "add", "bank", "--url", bank_url, "--drop", "--id", "d")[0] == 0
    assert httpx.get(f"{bank_url}/_sim/faults/d").json()["target"] == "callback"
    code, out = run(app, "faults", "clear", "bank", "--url", bank_url, "--id", "d")
    assert code == 0 and "removed fault d" in out
    code, out = run(app, "faults", "clear", "bank", "--url", bank_url, "--id", "d")
    assert code == 1 and "404" in out and "Traceback" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--error", "503", "--reset"], "exactly one effect"),
        ([], "exactly one effect"),
        (["--error", "200"], "422"),
        (["--error", "503", "--probability", "3"], "when.probability"),
        (["--error", "503", "--body", "nofield"], "FIELD=VALUE"),
    ],
)
def test_bad_input_is_one_clear_line(
    app: typer.Typer, bank_url: str, args: list[str], message: str
) -> None:
    code, out = run(app, "faults", "add", "bank", "--url", bank_url, *args)
    assert code != 0 and message in out and "Traceback" not in out


def test_unknown_simulator(app: typer.Typer) -> None:
    code, out = run(app, "faults", "list", "paypal")
    assert code == 2 and "unknown simulator 'paypal'" in out


def test_simulator_not_running(app: typer.Typer, free_port: int) -> None:
    code, out = run(app, "journal", "bank", "--url", f"http://127.0.0.1:{free_port}")
    assert code == 1 and "is not running" in out and "./paylab sim bank" in out


def test_url_from_environment(
    app: typer.Typer, bank_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYLAB_SIM_BANK_URL", bank_url)
    assert run(app, "faults", "list", "bank") == (0, "bank: no fault rules\n")


def test_journal_table_and_json(app: typer.Typer, bank_url: str) -> None:
    httpx.post(f"{bank_url}/v1/authorizations", json=AUTH)
    httpx.get(f"{bank_url}/v1/authorizations/none")
    code, out = run(app, "journal", "bank", "--url", bank_url)
    assert code == 0 and "/v1/authorizations" in out and "404" in out
    code, out = run(app, "journal", "bank", "--url", bank_url, "--json", "--status", "4xx")
    entries = json.loads(out)
    assert code == 0 and [e["status"] for e in entries] == [404]
    code, out = run(app, "journal", "bank", "--url", bank_url, "--status", "abc")
    assert code == 1 and "status" in out
