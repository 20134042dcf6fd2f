"""The audit service: every event once, in an append-only, hash-chained log."""
