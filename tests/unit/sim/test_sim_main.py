"""Running a simulator: command line, registry, state file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from simulators.__main__ import parse
from simulators.registry import create

CARD = {"number": "4575623182290326", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def test_parse_defaults_and_seed_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYLAB_SIM_SEED", "9")
    args = parse(["bank"])
    assert (args.name, args.host, args.port, args.seed) == ("bank", "127.0.0.1", None, 9)
    args = parse(["pse", "--port", "9111", "--seed", "3", "--state-file", "x.json"])
    assert (args.port, args.seed, args.state_file) == (9111, 3, Path("x.json"))


def test_unknown_simulator_is_rejected() -> None:
    with pytest.raises(SystemExit):
        parse(["paypal"])
    with pytest.raises(ValueError, match="unknown simulator"):
        create("paypal")


@pytest.mark.parametrize("name", ["pse", "bank", "antifraud", "sms"])
def test_every_simulator_has_health(name: str) -> None:
    with TestClient(create(name)) as c:
        assert c.get("/_sim/health").json() == {"status": "ok", "name": name}


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "bank.json"
    with TestClient(create("bank", seed=4, state_file=state)) as c:
        auth = c.post(
            "/v1/authorizations", json={"amount": "1000.00", "reference": "r", "card": CARD}
        ).json()
        c.post("/_sim/faults", json={"id": "keep", "effect": {"type": "latency", "ms": 1}})
    doc = json.loads(state.read_text())
    assert doc["name"] == "bank" and doc["seed"] == 4
    with TestClient(create("bank", state_file=state)) as c:
        assert c.get(f"/v1/authorizations/{auth['id']}").json()["amount"] == "1000.00"
        assert c.get("/_sim/cards/4575623182290326").json()["balance_cop"] == "4999000.00"
        assert [f["id"] for f in c.get("/_sim/faults").json()["faults"]] == ["keep"]
        assert c.get("/_sim/seed").json() == {"seed": 4}


def test_state_file_of_another_simulator_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    with TestClient(create("sms", state_file=state)):
        pass
    with (
        pytest.raises(ValueError, match="holds the state of 'sms'"),
        TestClient(create("bank", state_file=state)),
    ):
        pass
