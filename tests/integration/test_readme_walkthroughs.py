"""The README's walkthroughs, run as printed against the running stack.

Each `sh` block of the sections PAYMENT and PARTNERS runs in one bash (`set -euo pipefail`,
from the repository's root, in order) with only the edits a reader makes by hand:

- `<id>` becomes the payment the section created (a reader pastes it from the answer), and
  before the first read of it the script waits until the payment is final (the README's
  "about a second later");
- every `idempotency-key` value gets a suffix unique to the run, and a signup's NIT is a new
  one (with its DIAN check digit), so the walkthroughs can run again on the same stack (the
  README's literal keys would return the first run's payment, and a NIT registers once).

`curl` is a shell function there that keeps every call's arguments, HTTP status and body.
Every call must answer 2xx, and every `# ...` comment that shows JSON after a command must
match that command's answer: its values, except ids and elided ("…") values, whose keys must
be there, and the merchant's balance, which must have moved by the amounts shown (the demo
merchant may have a history before this test; another run moving its balance at the same
time would fail the check, as other state shared between concurrent runs on one stack does).
Calls leave from a loopback address of their own (`curl --interface`), so that per-address
limits on signups and logins do not count earlier runs against this one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from paylab.devstack.bank_cards import ensure_card_balance
from paylab.devstack.demo import demo_login
from paylab.merchant.schemas import nit_check_digit

pytestmark = [pytest.mark.stack, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "http://127.0.0.1:8080"
APPROVED_CARD = "4575623182290326"  # the README's card
PAYMENT = "A payment, end to end"
PARTNERS = (
    "For partners: register a merchant, point its confirmation URL at your endpoint, "
    "verify signatures"
)
IDS = {"id", "ref_payco", "p_cust_id_cliente"}  # differ on every run
BALANCE = {"available", "pending"}  # checked as changes from the balance before the run
CURL = re.compile(r"(?<![\w-])curl\s")

RECORDING_CURL = r"""
curl() {  # the real curl, keeping the call's arguments, status and body in $PAYLAB_RECORD
  local n
  n=$(( $(cat "$PAYLAB_RECORD/count") + 1 ))
  echo "$n" > "$PAYLAB_RECORD/count"
  printf '%s\n' "$*" > "$PAYLAB_RECORD/$n.args"
  command curl --interface "$PAYLAB_SOURCE_IP" "$@" -o "$PAYLAB_RECORD/$n.body" -w '%{http_code}' \
    > "$PAYLAB_RECORD/$n.status"
  cat "$PAYLAB_RECORD/$n.body"
}
"""
# Before the first `<id>`: the id from the last answer, then wait until the payment is final.
READ_ID_AND_WAIT = r"""
PAYLAB_PAYMENT_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' \
  < "$PAYLAB_RECORD/$(cat "$PAYLAB_RECORD/count").body")
python3 - "$PAYLAB_PAYMENT_ID" "$TOKEN" <<'WAIT'
import json, sys, time, urllib.request
url = "http://127.0.0.1:8080/v1/payments/" + sys.argv[1]
request = urllib.request.Request(url, headers={"authorization": "Bearer " + sys.argv[2]})
deadline = time.monotonic() + 60
while True:
    with urllib.request.urlopen(request, timeout=10) as answer:
        status = json.load(answer)["status"]
    if status not in ("pending", "held"):
        break
    if time.monotonic() > deadline:
        sys.exit(f"payment {sys.argv[1]} still {status} after 60 s")
    time.sleep(0.2)
WAIT
"""


def sections(readme: str) -> dict[str, list[str]]:
    """The `sh` blocks of each `## ` section of the README, by the section's title."""
    found: dict[str, list[str]] = {}
    for part in re.split(r"^## ", readme, flags=re.MULTILINE)[1:]:
        title, _, body = part.partition("\n")
        found[title.strip()] = re.findall(r"^```sh\n(.*?)^```", body, re.MULTILINE | re.DOTALL)
    return found


def script(blocks: list[str], suffix: str, nit: str) -> tuple[str, dict[int, list[dict[str, Any]]]]:
    """The section's blocks as one bash script, and the JSON each curl call is shown to answer.

    The calls are numbered in the order the README writes them, as the recording curl numbers
    them when the script runs (every `curl` runs once: there are no loops in the README).
    """
    lines = ["set -euo pipefail", RECORDING_CURL]
    shown: dict[int, list[dict[str, Any]]] = {}
    calls, waited = 0, False
    for block in blocks:
        for line in block.splitlines():
            if line.lstrip().startswith("#"):
                expected = shown_json(line)
                if expected is not None:
                    assert calls, f"a comment shows an answer before any call: {line}"
                    shown.setdefault(calls, []).append(expected)
                continue
            if "<id>" in line and not waited:
                lines.append(READ_ID_AND_WAIT)
                waited = True
            line = line.replace("<id>", "$PAYLAB_PAYMENT_ID")
            line = re.sub(
                r"(idempotency-key: )([^\"']+)", rf"\g<1>\g<2>-{suffix}", line, flags=re.IGNORECASE
            )
            line = re.sub(
                r'("doc_type": "NIT", "doc_number": ")[0-9-]+(")', rf"\g<1>{nit}\g<2>", line
            )
            calls += len(CURL.findall(line.split(" #", 1)[0]))
            lines.append(line)
    return "\n".join(lines) + "\n", shown


def shown_json(comment: str) -> dict[str, Any] | None:
    """The JSON a `# ...` comment shows (an object, or `"key": value` pairs), else None."""
    text = comment.lstrip().lstrip("#").strip()
    if '":' not in text:
        return None
    start = min(i for i in (text.find("{"), text.find('"')) if i >= 0)
    text = text[start:]
    text = text[: text.rindex("}") + 1] if text.startswith("{") else "{" + text + "}"
    value = json.loads(text)
    assert isinstance(value, dict), comment
    return value


def run(title: str, tmp_path: Path) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """Run a section; every call made (args, status, body) and what the README shows."""
    blocks = sections((ROOT / "README.md").read_text())[title]
    assert blocks, f"the README has no sh block under '## {title}'"
    digits = str(800_000_000 + uuid.uuid4().int % 99_999_999)
    source, shown = script(blocks, uuid.uuid4().hex[:12], f"{digits}-{nit_check_digit(digits)}")
    record = tmp_path / "record"
    record.mkdir()
    (record / "count").write_text("0\n")
    done = subprocess.run(
        ["bash", "-c", source],
        cwd=ROOT,
        # From a loopback address of its own, as the features' clients: signups and logins
        # are limited per client address, and a stack may serve many runs in an hour.
        env={**os.environ, "PAYLAB_RECORD": str(record), "PAYLAB_SOURCE_IP": _loopback()},
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    count = int((record / "count").read_text())
    calls = [
        {
            "args": (record / f"{n}.args").read_text().strip(),
            "status": int((record / f"{n}.status").read_text() or 0),
            "body": _read(record / f"{n}.body"),  # none when curl could not connect
        }
        for n in range(1, count + 1)
    ]
    assert done.returncode == 0, (
        f"'## {title}' failed (exit {done.returncode}): {done.stderr[-2000:]}\n"
        f"calls: {redacted(str(calls))}"
    )
    return calls, shown


def _loopback() -> str:
    n = uuid.uuid4().int
    return f"127.{n % 250 + 3}.{n // 250 % 250 + 1}.{n // 62500 % 250 + 1}"


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def redacted(text: str) -> str:
    """Calls for a failure message, without tokens, private keys or p_keys."""
    text = re.sub(r"(Bearer )[^\s'\"]+", r"\g<1>…", text)
    return re.sub(r'((?:private_key|bearer_token|p_key)\W+)[^"\\]+', r"\g<1>…", text)


def check_shown(
    calls: list[dict[str, Any]],
    shown: dict[int, list[dict[str, Any]]],
    before: dict[str, str] | None = None,
) -> None:
    for n, expectations in shown.items():
        call = calls[n - 1]
        answer = json.loads(call["body"])
        for expected in expectations:
            for key, value in expected.items():
                assert key in answer, redacted(f"{call['args']}: no '{key}' in {answer}")
                if key in IDS or (isinstance(value, str) and "…" in value):
                    continue
                if key in BALANCE:
                    assert before is not None, redacted(f"{call['args']}: no balance before")
                    moved = Decimal(answer[key]) - Decimal(before[key])
                    assert moved == Decimal(value), redacted(
                        f"{call['args']}: {key} moved by {moved}, the README shows {value}"
                    )
                    continue
                assert answer[key] == value, redacted(
                    f"{call['args']}: {key} is {answer[key]!r}, the README shows {value!r}"
                )


def _demo_balance() -> dict[str, str]:
    _, token = demo_login(GATEWAY)
    balance = httpx.get(
        f"{GATEWAY}/v1/merchants/me/balance",
        headers={"authorization": f"Bearer {token}"},
        timeout=10.0,
    )
    assert balance.status_code == 200, balance.text
    return dict(balance.json())


def test_a_payment_end_to_end_works_as_the_readme_shows(tmp_path: Path) -> None:
    ensure_card_balance(APPROVED_CARD, "100000.00")
    before = _demo_balance()
    calls, shown = run(PAYMENT, tmp_path)
    assert [c["status"] for c in calls if not 200 <= c["status"] < 300] == [], redacted(str(calls))
    # login, create, read, balance, two refunds: each shown answer checked
    assert len(calls) == 6, redacted(str(calls))
    assert sorted(shown) == [2, 3, 4, 5, 6], shown
    check_shown(calls, shown, before)


def test_the_partner_walkthrough_works_as_the_readme_shows(tmp_path: Path) -> None:
    calls, shown = run(PARTNERS, tmp_path)
    assert [c["status"] for c in calls if not 200 <= c["status"] < 300] == [], redacted(str(calls))
    assert len(calls) == 8, redacted(str(calls))
    # signup, login, the receiver's key; then webhook URL, payout account, signature keys and
    # deliveries, each shown; the receiver's list last
    assert sorted(shown) == [4, 5, 6, 7], shown
    check_shown(calls, shown)
