"""Conformance suite: what Paylab relies on, proven against our LocalStack (or AWS)."""
