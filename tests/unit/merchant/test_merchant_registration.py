"""Registration's remote steps converge: retries after a crash anywhere create nothing twice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from paylab.core.problems import Problem
from paylab.merchant.clients import ApiKey
from paylab.merchant.registration import provision, request_hash
from paylab.merchant.schemas import MerchantCreate, MerchantUpdate, nit_check_digit


class Crash(Exception):
    """The process died here."""


@dataclass
class FakeAuth:
    """auth's internal API in memory; `crash_after_issue` loses the answer of the Nth issue."""

    keys: dict[str, dict[str, ApiKey]] = field(default_factory=dict)
    crash_after_issue: set[int] = field(default_factory=set)
    issued: int = 0

    def list_keys(self, merchant_id: str) -> list[ApiKey]:
        return list(self.keys.get(merchant_id, {}).values())

    def issue_key(self, merchant_id: str) -> tuple[str, str]:
        self.issued += 1
        public = f"pub_{self.issued}"
        self.keys.setdefault(merchant_id, {})[public] = ApiKey(public, True, None)
        if self.issued in self.crash_after_issue:
            raise Crash("the answer was lost")
        return public, f"prv_{self.issued}"

    def revoke_key(self, public_key: str) -> None:
        for keys in self.keys.values():
            if public_key in keys:
                keys[public_key] = ApiKey(public_key, False, keys[public_key].last_used_at)

    def active(self, merchant_id: str) -> list[str]:
        return [k.public_key for k in self.list_keys(merchant_id) if k.active]

    def log_in(self, public_key: str) -> None:
        for keys in self.keys.values():
            if public_key in keys:
                keys[public_key] = ApiKey(public_key, True, datetime.now(UTC))


@dataclass
class FakeWallet:
    accounts: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    crash_once: bool = False

    def ensure_account(self, merchant_id: str, currency: str) -> uuid.UUID:
        account = self.accounts.setdefault((merchant_id, currency), uuid.uuid4())
        if self.crash_once:
            self.crash_once = False
            raise Crash("after the account was created")
        return account


M = "mch_test"


def test_first_run_makes_one_account_and_one_key() -> None:
    auth, wallet = FakeAuth(), FakeWallet()
    account, public, private = provision(auth, wallet, M, delivered=None)
    assert auth.active(M) == [public]
    assert private.startswith("prv_")
    assert wallet.accounts == {(M, "COP"): account}


def test_a_crash_after_the_wallet_step_then_a_retry() -> None:
    auth, wallet = FakeAuth(), FakeWallet(crash_once=True)
    with pytest.raises(Crash):
        provision(auth, wallet, M, delivered=None)
    account, public, _ = provision(auth, wallet, M, delivered=None)
    assert list(wallet.accounts.values()) == [account]  # the same account, not a second one
    assert auth.active(M) == [public]


def test_a_lost_issue_answer_leaves_no_second_active_key() -> None:
    auth, wallet = FakeAuth(crash_after_issue={1}), FakeWallet()
    with pytest.raises(Crash):
        provision(auth, wallet, M, delivered=None)
    assert auth.active(M) == ["pub_1"]  # issued, but nobody ever saw its private half
    _, public, _ = provision(auth, wallet, M, delivered=None)
    assert auth.active(M) == [public] == ["pub_2"]


def test_a_retried_issue_call_that_issued_twice_is_cleaned_up() -> None:
    auth, wallet = FakeAuth(), FakeWallet()
    auth.issue_key(M)  # as if an earlier POST reached auth but its answer was lost in transit
    _, public, _ = provision(auth, wallet, M, delivered=None)
    assert auth.active(M) == [public]


def test_replay_of_a_finished_signup_reissues_while_the_keys_were_never_used() -> None:
    auth, wallet = FakeAuth(), FakeWallet()
    account, first, _ = provision(auth, wallet, M, delivered=None)
    again, second, _ = provision(auth, wallet, M, delivered=first)
    assert again == account
    assert auth.active(M) == [second] != [first]


def test_replay_after_the_keys_logged_in_is_refused() -> None:
    auth, wallet = FakeAuth(), FakeWallet()
    _, first, _ = provision(auth, wallet, M, delivered=None)
    auth.log_in(first)
    with pytest.raises(Problem) as refused:
        provision(auth, wallet, M, delivered=first)
    assert refused.value.status == 409
    assert auth.active(M) == [first]  # untouched


def form(**overrides: str) -> MerchantCreate:
    data = {
        "name": "Tienda Ana",
        "email": "ana@tienda.co",
        "phone": "+573001234567",
        "doc_type": "NIT",
        "doc_number": "900123456",
    }
    return MerchantCreate.model_validate(data | overrides)


def test_request_hash_is_stable_and_sees_every_field() -> None:
    assert request_hash(form()) == request_hash(form())
    assert request_hash(form()) != request_hash(form(name="Tienda Ana 2"))
    assert request_hash(form()) != request_hash(form(confirmation_url="http://127.0.0.1/c"))


def test_nit_check_digit() -> None:
    digit = nit_check_digit("900123456")
    form(doc_number=f"900123456-{digit}")
    with pytest.raises(ValidationError, match="check digit"):
        form(doc_number=f"900123456-{(digit + 1) % 10}")
    # Known published NIT: DIAN's own, 800197268-4.
    assert nit_check_digit("800197268") == 4


@pytest.mark.parametrize(
    "bad",
    [
        {"email": "not-an-email"},
        {"phone": "12"},
        {"doc_type": "XX"},
        {"doc_number": "12"},
        {"doc_type": "CC", "doc_number": "AB12345"},
        {"doc_type": "CC", "doc_number": "1012345678-1"},
        {"name": "bad\x00name"},
        {"extra": "field"},
    ],
)
def test_signup_form_refuses(bad: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        form(**bad)


def test_passport_numbers_may_have_letters() -> None:
    assert form(doc_type="PPN", doc_number="AB123456").doc_number == "AB123456"


def test_update_is_partial() -> None:
    assert MerchantUpdate.model_validate({"phone": "+573009999999"}).model_dump(
        exclude_unset=True
    ) == {"phone": "+573009999999"}
