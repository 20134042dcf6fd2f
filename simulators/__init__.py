"""Partner simulators (PSE, bank, antifraud, SMS; a merchant-side receiver) with fault injection."""

from __future__ import annotations

#: Simulator name -> default port (ARCHITECTURE.md section 1).
DEFAULT_PORTS: dict[str, int] = {
    "pse": 9001,
    "bank": 9002,
    "antifraud": 9003,
    "sms": 9004,
    "merchant": 9005,
}

__all__ = ["DEFAULT_PORTS"]
