"""Phone numbers and message encoding: E.164, Colombian mobiles, GSM-7 segments."""

from __future__ import annotations

import math
import re

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
CO_MOBILE = re.compile(r"^\+573[0-9]{9}$")

#: Magic numbers (documented in the README, "Simulators"): what their receipts say.
MAGIC_NUMBERS: dict[str, tuple[str, str | None]] = {
    "+573000000001": ("failed", "handset_unreachable"),
    "+573000000002": ("undelivered", "carrier_rejected"),
    "+573000000003": ("sent", None),  # never gets a final receipt
}

_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")


def number_error(to: str) -> str | None:
    """Why `to` cannot receive an SMS, or None."""
    if not E164.match(to):
        return "must be an E.164 number: + then country code and number, e.g. +573001234567"
    if to.startswith("+57") and not CO_MOBILE.match(to):
        return "Colombian numbers must be mobiles: +57 3xx xxx xxxx (10 digits after +57)"
    return None


def encoding_and_segments(body: str) -> tuple[str, int]:
    """GSM-7 when every character fits, else UCS-2; concatenated SMS use smaller parts."""
    if all(c in _GSM7 or c in _GSM7_EXT for c in body):
        units = sum(2 if c in _GSM7_EXT else 1 for c in body)
        return "GSM-7", 1 if units <= 160 else math.ceil(units / 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in body)
    return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)
