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

#: Simulator name -> (title, description) of its OpenAPI document.
OPENAPI_INFO: dict[str, tuple[str, str]] = {
    "pse": (
        "Paylab PSE simulator",
        "PSE bank transfers: bank list, transactions, a simulated bank page, "
        "signed confirmations; magic bank codes; fault injection under /_sim/.",
    ),
    "bank": (
        "Paylab bank / card acquirer simulator",
        "Card tokenization, authorization, capture, void, refund and payouts, "
        "with ePayco's test cards and fault injection under /_sim/.",
    ),
    "antifraud": (
        "Paylab antifraud simulator",
        "Scores payment attempts 0-100 from block lists, amount thresholds and "
        "velocity; rules and lists editable; fault injection under /_sim/.",
    ),
    "sms": (
        "Paylab SMS provider simulator",
        "Sends SMS to E.164 numbers (Colombian mobiles +57 3xx), posts signed "
        "delivery receipts, keeps a queryable log; fault injection under /_sim/.",
    ),
    "merchant": (
        "Paylab merchant-side webhook receiver",
        "A merchant's confirmation endpoint: records ePayco-style confirmation "
        "webhooks (form posts), verifies x_signature with the merchant's p_cust_id_cliente and "
        "p_key, answers 200 (or fails on demand through /_sim/faults).",
    ),
}

__all__ = ["DEFAULT_PORTS", "OPENAPI_INFO"]
