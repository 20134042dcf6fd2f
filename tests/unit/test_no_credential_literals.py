"""Issue 6 acceptance: no credential literal in the repository.

Every credential lives in Secrets Manager (or is generated at run time); the only literals
left are LocalStack's documented dummy AWS credentials (`test`/`test`) and the explicit test
fixture values listed below. Files are those git tracks plus new, not ignored ones, so a
literal is caught before it is committed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The simulators' old callback secrets (`paylab-<name>-sim-secret`): never allowed back.
OLD_SIM_SECRET = re.compile(r"paylab-[a-z]+-sim-secret")
# A password, secret or key given a quoted, non-empty value that is neither a placeholder
# (angle brackets), a variable (dollar sign, braces) nor the start of a concatenation.
KEY_VALUE = re.compile(
    r"(?i)(?<![A-Za-z0-9:])(?:password|passwd|secret|api_key|private_key|signing_key|access_key_id"
    r"|secret_access_key)[\"']?\s*[:=]\s*(?P<q>[\"'])(?P<value>[^\"'\s$<{][^\"']*)"
    r"(?P=q)(?!\s*\+)"
)
# Environment style, unquoted: an upper-case *_SECRET or *_PASSWORD set with `=` or `: `.
ENV_VALUE = re.compile(
    r"\b[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|API_KEY|PRIVATE_KEY|ACCESS_KEY_ID)"
    r"(?:=|:[ \t]+)(?P<value>[^\s\"'$<{#][^\s\"']*)"
)
# Credentials inside a URL (a password between the user's colon and the at sign).
URL_PASSWORD = re.compile(r"://[^/\s:@\"'{}]+:(?P<value>[^@\s/\"'{}$<]+)@")
AWS_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
PRIVATE_KEY_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")

RULES = (
    ("credential value", KEY_VALUE),
    ("credential in the environment", ENV_VALUE),
    ("password in URL", URL_PASSWORD),
)
# Secret *names* in our naming scheme are ids, not values.
SECRET_NAME = re.compile(r"^paylab/[\w/-]+$")
LOCALSTACK_DUMMY = "test"
LOCALSTACK_FILES = frozenset(
    {
        "platform/paylab/core/aws.py",
        "localstack/tests/conftest.py",
        "bench/localstack.py",  # benchmarks LocalStack itself, with its dummy credentials
    }
)
# Test fixtures: throwaway values a test presents on purpose (wrong, too short, a
# pending password for a role the test creates), never a credential of a running system.
FIXTURES: dict[str, frozenset[str]] = {
    "tests/integration/auth/test_auth_login.py": frozenset({"x", "prv 1"}),
    "tests/integration/gateway/test_gateway_limits.py": frozenset({"prv_x", "k"}),
    "tests/integration/gateway/test_gateway_proxy.py": frozenset({"wrong"}),
    "tests/integration/secrets/test_postgres_rotation.py": frozenset(
        {"unused", "PendingPassword42"}
    ),
    "tests/integration/merchant/test_merchant_signup.py": frozenset({"pw"}),
    "tests/unit/merchant/test_merchant_urls.py": frozenset({"pw"}),
    "tests/unit/secret_rotation/test_kinds.py": frozenset({"old", "new"}),
    "tests/unit/secret_rotation/test_rotation_steps.py": frozenset({"old-password"}),
    "tests/unit/sim/test_sim_control.py": frozenset({"x"}),
    # The JWT key's secret name (its suffix), not a key.
    "features/steps/test_secret_rotation.py": frozenset({"jwt-signing-key"}),
}


@dataclass(frozen=True)
class Finding:
    """One suspected credential literal."""

    path: str
    line: int
    rule: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.text.strip()[:120]}"


def _allowed(path: str, value: str) -> bool:
    if SECRET_NAME.match(value):
        return True
    if path in LOCALSTACK_FILES and value == LOCALSTACK_DUMMY:
        return True
    return value in FIXTURES.get(path, frozenset())


def _values(line: str) -> list[tuple[str, str]]:
    """(rule, value) for every credential-looking assignment in `line`, allowed or not."""
    return [(rule, m.group("value")) for rule, pattern in RULES for m in pattern.finditer(line)]


def scan(path: str, text: str) -> list[Finding]:
    """The credential literals in one file's text."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if OLD_SIM_SECRET.search(line):
            found.append(Finding(path, number, "old simulator secret", line))
        if AWS_ACCESS_KEY.search(line):
            found.append(Finding(path, number, "AWS access key id", line))
        if PRIVATE_KEY_BLOCK.search(line):
            found.append(Finding(path, number, "private key block", line))
        for rule, value in _values(line):
            if not _allowed(path, value):
                found.append(Finding(path, number, rule, line))
    return found


def repository_files() -> list[str]:
    """Tracked files plus untracked ones git does not ignore."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({p for p in listed.split("\0") if p and (ROOT / p).is_file()})


def test_the_repository_holds_no_credential_literal() -> None:
    findings = []
    for path in repository_files():
        try:
            text = (ROOT / path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary files carry no source literals
        findings.extend(scan(path, text))
    assert not findings, "credential literals:\n" + "\n".join(map(str, findings))


def test_the_fixture_allowances_are_still_needed() -> None:
    """An allowance whose value left its file is stale: drop it rather than let it cover more."""
    stale = []
    for path, values in FIXTURES.items():
        text = (ROOT / path).read_text(encoding="utf-8") if (ROOT / path).exists() else ""
        present = {value for line in text.splitlines() for _, value in _values(line)}
        stale += [f"{path}: {v!r}" for v in sorted(values - present)]
    assert not stale, "unused allowances:\n" + "\n".join(stale)


# The scanner itself: the strings are built in pieces so this file holds no literal.
@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("platform/paylab/payment/settings.py", 'default="paylab-' + 'pse-sim-secret"'),
        ("README.md", "the default is `paylab-" + "sms-sim-secret`"),
        ("platform/paylab/x.py", "password" + '="hunter22hunter22"'),
        ("compose.yaml", "PAYLAB_SIM_PSE_SECRET" + "=abcdef123456"),
        ("platform/paylab/x.py", "{'api_" + "key': 'k-123456'}"),
        ("docs/x.md", "postgresql://paylab:" + "s3cret@localhost/db"),
        ("platform/paylab/x.py", "aws_access_key_id = " + "'AKIA" + "ABCDEFGHIJKLMNOP'"),
        ("platform/paylab/x.py", '"-----BEGIN RSA ' + 'PRIVATE KEY-----"'),
        # The LocalStack dummy is allowed only where LocalStack is configured.
        ("platform/paylab/payment/app.py", 'aws_secret_access_key="' + 'test"'),
        # A fixture value is allowed only in its own test file.
        ("tests/unit/wallet/test_x.py", '{"password": "' + 'old-password"}'),
    ],
)
def test_the_scanner_flags(path: str, line: str) -> None:
    assert scan(path, line), f"not flagged: {line}"


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (
            "platform/paylab/core/aws.py",
            '{"aws_access_key_id": ' + '"test", "aws_secret_access_key": ' + '"test"}',
        ),
        ("README.md", "-d '{\"callback_" + 'secret": "<your-shared-secret>"}\''),
        ("README.md", "DATABASE_URL=postgresql://postgres:$PG_PASSWORD@127.0.0.1/paylab"),
        ("tests/unit/x.py", 'SECRET = "paylab/partners/bank"'),
        ("simulators/callbacks.py", 'secret = "not-" + secret'),
        ("platform/paylab/x.py", "password = reader.get_json(arn)['password']"),
    ],
)
def test_the_scanner_lets_pass(path: str, line: str) -> None:
    assert scan(path, line) == []
