"""The retention policy: what it may delete, what it must never touch, and that the doc agrees."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from paylab.core.db import SERVICES_WITH_DB
from paylab.core.retention import PROTECTED, RULES, delete_statement, rules_for

DOC = Path(__file__).resolve().parents[3] / "docs" / "retention.md"
# SQS keeps a message at most 14 days (the DLQs and parking queues do): an id remembered
# for less than that could let a redelivered message act twice.
LONGEST_QUEUE_RETENTION = timedelta(days=14)


def test_no_rule_touches_audit_the_ledger_or_the_systems_of_record() -> None:
    assert not {rule.name for rule in RULES} & PROTECTED
    assert not [rule for rule in RULES if rule.schema == "audit"]
    ledger = {"postings", "entries", "holds", "operations", "balances", "accounts", "refunds"}
    assert not [rule for rule in RULES if rule.schema == "wallet" and rule.table in ledger]


def test_every_rule_belongs_to_a_service_schema_and_says_why() -> None:
    for rule in RULES:
        assert rule.schema in SERVICES_WITH_DB, rule.name
        assert len(rule.why) > 40, rule.name
        assert rule.keep >= timedelta(days=7), rule.name


def test_outbox_rows_are_deleted_only_once_published() -> None:
    outboxes = [rule for rule in RULES if rule.table == "outbox"]
    assert {rule.schema for rule in outboxes} == {"payment", "wallet", "merchant", "notification"}
    for rule in outboxes:
        assert rule.age_column == "published_at"
        assert "published_at IS NOT NULL" in rule.condition


def test_message_ids_outlive_every_queue() -> None:
    inboxes = [rule for rule in RULES if rule.table == "processed_messages"]
    assert inboxes
    assert all(rule.keep > LONGEST_QUEUE_RETENTION for rule in inboxes)
    [sent] = [rule for rule in RULES if rule.name == "notification.notifications"]
    assert sent.keep > LONGEST_QUEUE_RETENTION  # (event_id, channel) also stops resends


def test_rows_still_in_use_are_kept() -> None:
    by_name = {rule.name: rule for rule in RULES}
    assert "'sending'" not in by_name["notification.notifications"].condition
    assert "status IN ('sent', 'failed')" in by_name["notification.notifications"].condition
    assert "response_status IS NOT NULL" in by_name["payment.idempotency_keys"].condition
    attempts = by_name["merchant.webhook_attempts"].condition
    assert "'delivered', 'failed'" in attempts and "pending" not in attempts


def test_a_delete_is_one_bounded_batch_that_skips_locked_rows() -> None:
    for rule in RULES:
        sql = delete_statement(rule)
        assert sql.startswith(f"DELETE FROM {rule.name} WHERE ctid = ANY(ARRAY(SELECT ctid")
        assert "LIMIT :batch FOR UPDATE SKIP LOCKED" in sql
        # The age and the condition are checked inside and again outside the batch.
        assert sql.count(f"{rule.age_column} < now() - make_interval(secs => :keep_s)") == 2
        assert sql.count(f"({rule.condition})") == 2


def test_rules_come_per_schema_in_order() -> None:
    assert [r.table for r in rules_for("merchant")] == [
        "outbox",
        "processed_messages",
        "webhook_attempts",
    ]
    assert rules_for("audit") == ()
    with pytest.raises(ValueError, match="no service schema"):
        rules_for("public; DROP TABLE x")


def test_the_document_lists_every_rule_with_its_period() -> None:
    text = DOC.read_text()
    for rule in RULES:
        line = next((ln for ln in text.splitlines() if f"`{rule.name}`" in ln), None)
        assert line is not None, f"docs/retention.md does not mention {rule.name}"
        assert f"{rule.keep.days} days" in line, rule.name
