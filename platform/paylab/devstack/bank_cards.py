"""The bank simulator's shared test cards, topped up for tests that spend them."""

from __future__ import annotations

from decimal import Decimal

import httpx

BANK = "http://127.0.0.1:9002"


def ensure_card_balance(number: str, at_least: str = "1000000.00", bank: str = BANK) -> None:
    """Top a shared test card back up (to COP 5,000,000.00) when earlier runs spent it down."""
    card = httpx.get(f"{bank}/_sim/cards/{number}", timeout=5.0)
    if card.status_code != 200:
        raise AssertionError(f"the bank simulator has no card {number}: {card.text}")
    if Decimal(card.json()["balance_cop"]) < Decimal(at_least):
        topped = httpx.patch(
            f"{bank}/_sim/cards/{number}", json={"balance_cop": "5000000.00"}, timeout=5.0
        )
        if topped.status_code != 200:
            raise AssertionError(f"the card {number} could not be topped up: {topped.text}")
