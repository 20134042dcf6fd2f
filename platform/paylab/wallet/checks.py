"""Whole-ledger invariants, read from one snapshot: what feature tests and operators check."""

from __future__ import annotations

from sqlalchemy import Connection, text

from paylab.wallet.schemas import LedgerCheck

# Every posting and every currency sums to zero.
_ENTRIES_SUM_ZERO = """
SELECT NOT EXISTS (SELECT 1 FROM wallet.entries GROUP BY currency HAVING sum(amount) <> 0)
   AND NOT EXISTS (SELECT 1 FROM wallet.entries GROUP BY posting_id HAVING sum(amount) <> 0)
"""
# Each balance row equals the sum of its account's entries, bucket by bucket.
_BALANCES_MATCH = """
SELECT NOT EXISTS (
  SELECT 1
    FROM wallet.balances b
    LEFT JOIN (
      SELECT account_id,
             coalesce(sum(amount) FILTER (WHERE bucket = 'available'), 0) AS available,
             coalesce(sum(amount) FILTER (WHERE bucket = 'held'), 0) AS held,
             coalesce(sum(amount) FILTER (WHERE bucket = 'pending'), 0) AS pending
        FROM wallet.entries GROUP BY account_id
    ) e ON e.account_id = b.account_id
   WHERE b.available <> coalesce(e.available, 0)
      OR b.held <> coalesce(e.held, 0)
      OR b.pending <> coalesce(e.pending, 0)
)
"""
# Held and pending money is exactly the open holds and the merchants' reserved refunds.
_HOLDS_MATCH = """
SELECT NOT EXISTS (
  SELECT 1
    FROM wallet.balances b
    LEFT JOIN (
      SELECT account_id, sum(held) AS held, sum(pending) AS pending
        FROM (
          SELECT coalesce(payer_account_id, merchant_account_id) AS account_id,
                 CASE WHEN method = 'wallet' THEN amount ELSE 0 END AS held,
                 CASE WHEN method <> 'wallet' THEN amount ELSE 0 END AS pending
            FROM wallet.holds WHERE status = 'held'
          UNION ALL
          SELECT merchant_account_id, amount - fee_returned, 0
            FROM wallet.refunds WHERE status = 'reserved'
        ) open_money
       GROUP BY account_id
    ) h ON h.account_id = b.account_id
   WHERE b.kind <> 'system'
     AND (b.held <> coalesce(h.held, 0) OR b.pending <> coalesce(h.pending, 0))
)
"""
_OPEN_HOLDS = """
SELECT count(*) FROM wallet.holds
 WHERE status = 'held' AND (CAST(:merchant_id AS text) IS NULL OR merchant_id = :merchant_id)
"""


_OPEN_REFUNDS = """
SELECT count(*) FROM wallet.refunds
 WHERE status = 'reserved' AND (CAST(:merchant_id AS text) IS NULL OR merchant_id = :merchant_id)
"""


def ledger_check(connection: Connection, merchant_id: str | None = None) -> LedgerCheck:
    """Run every invariant; `connection` should be in a REPEATABLE READ transaction."""
    return LedgerCheck(
        entries_sum_zero=bool(connection.scalar(text(_ENTRIES_SUM_ZERO))),
        balances_match_entries=bool(connection.scalar(text(_BALANCES_MATCH))),
        holds_match_balances=bool(connection.scalar(text(_HOLDS_MATCH))),
        open_holds=int(connection.scalar(text(_OPEN_HOLDS), {"merchant_id": merchant_id}) or 0),
        open_refunds=int(connection.scalar(text(_OPEN_REFUNDS), {"merchant_id": merchant_id}) or 0),
    )
